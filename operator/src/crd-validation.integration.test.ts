/**
 * The CRD explains itself and refuses bad input at apply time, on a real API
 * server: every field of the published schema has a description (what
 * `kubectl explain` shows), and each kind of mistake that would otherwise
 * surface only when the operator applies a workload (a bad toleration, an
 * invalid label, a Secret name that cannot exist, an image reference that is
 * not one) is refused by the API server with a message naming the field.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type ControlPlane,
  needsReal,
  startControlPlane,
  trackFailures,
} from "../../testenv/harness/index.ts";
import { KubeApi } from "./kube-api.ts";
import { clusterHelpers } from "./testing/cluster-helpers.ts";
import { eventually } from "./testing/operator-process.ts";
import { BAD_SPECS, GOOD_SPEC } from "./testing/validation-cases.ts";

const NS = "valid";

interface Schema {
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  allOf?: Schema[];
  $ref?: string;
}

describe("the ChatCluster CRD on a real API server", {
  timeout: 300_000,
  skip: needsReal("a control plane (make testenv)"),
}, () => {
  const failed = trackFailures();
  let cp: ControlPlane;
  let dir: string;
  let api: KubeApi;
  const { kubectl, applyYaml, installCrd } = clusterHelpers(
    () => (args) => cp.kubectl(args),
    NS,
    () => dir,
  );
  /** A ChatCluster manifest with this spec, as JSON (valid YAML). */
  const manifest = (name: string, spec: unknown) =>
    JSON.stringify({ apiVersion: "chatcluster.io/v1alpha1", kind: "ChatCluster", metadata: { name }, spec });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "chatcluster-crd-validation-"));
    cp = await startControlPlane({ name: "crd-validation" });
    api = new KubeApi(cp.kubeConfig);
    await installCrd();
    await kubectl("create", "namespace", NS);
  });

  after(async () => {
    api?.close();
    await cp?.stop({ failed: failed() });
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("publishes a description for every field, as kubectl explain shows them", async () => {
    // The API server publishes a new CRD's OpenAPI a moment after it is Established.
    const doc = await eventually("the ChatCluster OpenAPI v3 document", () =>
      api.get<{ components: { schemas: Record<string, Schema> } }>(
        "/openapi/v3/apis/chatcluster.io/v1alpha1",
      ),
    );
    const schemas = doc.components.schemas;
    const resolve = (s: Schema): Schema => {
      const ref = s.$ref ?? s.allOf?.[0]?.$ref;
      return ref === undefined ? s : { ...schemas[ref.replace("#/components/schemas/", "")], ...s };
    };
    const missing: string[] = [];
    const walk = (s: Schema, path: string) => {
      const r = resolve(s);
      if (!r.description?.trim()) missing.push(path);
      for (const [k, sub] of Object.entries(r.properties ?? {})) walk(sub, `${path}.${k}`);
      if (r.items?.properties)
        for (const [k, sub] of Object.entries(r.items.properties)) walk(sub, `${path}[].${k}`);
    };
    const cc = schemas["io.chatcluster.v1alpha1.ChatCluster"];
    assert.ok(cc, `no ChatCluster schema among ${Object.keys(schemas).join(", ")}`);
    walk(cc.properties!.spec!, "spec");
    walk(cc.properties!.status!, "status");
    assert.deepEqual(missing, []);

    const recursive = await kubectl("explain", "chatcluster.spec", "--recursive");
    assert.match(recursive, /replicas\s+<integer>/);
    const replicas = await kubectl("explain", "chatcluster.spec.gateway.replicas");
    assert.match(replicas, /DESCRIPTION:\s+Gateway pods\. The scale subresource's target/);
    const name = await kubectl("explain", "chatcluster.spec.auth.jwt.secretKeyRef.name");
    assert.match(name, /Secret name in the ChatCluster's namespace/);
  });

  it("accepts a spec that sets every field", async () => {
    await applyYaml("good.json", manifest("good", GOOD_SPEC));
  });

  for (const c of BAD_SPECS) {
    it(`refuses ${c.what}, naming the field`, async () => {
      const name = `bad-${BAD_SPECS.indexOf(c)}`;
      await assert.rejects(applyYaml(`${name}.json`, manifest(name, c.spec)), (err: unknown) => {
        const text = String(err);
        if (process.env.CHATCLUSTER_SHOW_REFUSALS === "1") console.log(text);
        assert.ok(text.includes(c.field), `the refusal names ${c.field}: ${text}`);
        assert.match(text, c.message);
        return true;
      });
    });
  }
});
