import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CRD_PATH, readYamlPlain } from "../testing/fixtures.ts";

/**
 * `kubectl explain chatcluster.spec --recursive` is the reference most users
 * read: every field of the schema carries a description. (The published
 * OpenAPI is checked on a real API server in crd-validation.integration.test.ts.)
 */

interface Schema {
  description?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
}

/** Paths of fields without a description, below (and including) this schema. */
function undescribed(schema: Schema, path: string): string[] {
  const out: string[] = [];
  if (schema.description === undefined || schema.description.trim() === "") out.push(path);
  for (const [name, sub] of Object.entries(schema.properties ?? {}))
    out.push(...undescribed(sub, `${path}.${name}`));
  const items = schema.items;
  if (items?.properties !== undefined) {
    for (const [name, sub] of Object.entries(items.properties))
      out.push(...undescribed(sub, `${path}[].${name}`));
  }
  const extra = schema.additionalProperties;
  if (typeof extra === "object" && extra.properties !== undefined) {
    for (const [name, sub] of Object.entries(extra.properties))
      out.push(...undescribed(sub, `${path}{}.${name}`));
  }
  return out;
}

describe("the ChatCluster CRD schema", () => {
  const crd = readYamlPlain<{
    spec: { versions: { schema: { openAPIV3Schema: Schema }; additionalPrinterColumns: unknown[] }[] };
  }>(CRD_PATH);
  const version = crd.spec.versions[0]!;
  const root = version.schema.openAPIV3Schema;

  it("describes every field", () => {
    // metadata is ObjectMeta: the API server refuses anything but its type there.
    const { metadata: _, ...rest } = root.properties ?? {};
    assert.deepEqual(undescribed({ ...root, properties: rest }, "chatcluster"), []);
  });

  it("finds a field without a description (the check can fail)", () => {
    const schema: Schema = {
      description: "root",
      properties: {
        a: { description: "a", properties: { b: {} } },
        list: { description: "l", items: { properties: { c: { description: "" } } } },
      },
    };
    assert.deepEqual(undescribed(schema, "x"), ["x.a.b", "x.list[].c"]);
  });

  it("shows ready/desired pods of both tiers in kubectl get", () => {
    const columns = version.additionalPrinterColumns as {
      name: string;
      jsonPath: string;
      priority?: number;
    }[];
    const shown = columns.filter((c) => (c.priority ?? 0) === 0).map((c) => `${c.name}=${c.jsonPath}`);
    assert.deepEqual(shown, [
      'Ready=.status.conditions[?(@.type=="Ready")].status',
      "Gateways=.status.gateway.ready",
      "Logic=.status.logic.ready",
      "Age=.metadata.creationTimestamp",
    ]);
  });
});
