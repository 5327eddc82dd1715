import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CRD_PATH, readYamlPlain } from "../testing/fixtures.ts";
import { DEFAULTS, resolveSpec } from "./defaults.ts";

type Schema = { default?: unknown; properties?: Record<string, Schema> };

function schemaAt(root: Schema, path: string): Schema {
  let s = root;
  for (const part of path.split(".")) {
    const next = s.properties?.[part];
    assert.ok(next, `CRD schema has no ${path}`);
    s = next;
  }
  return s;
}

describe("CRD defaults", () => {
  const crd = readYamlPlain<{
    spec: { versions: { schema: { openAPIV3Schema: Schema } }[] };
  }>(CRD_PATH);
  const spec = schemaAt(crd.spec.versions[0]!.schema.openAPIV3Schema, "spec");

  it("match the TypeScript defaults", () => {
    const pairs: [string, unknown][] = [
      ["image.pullPolicy", DEFAULTS.pullPolicy],
      ["gateway.replicas", DEFAULTS.gatewayReplicas],
      ["gateway.ports.client", DEFAULTS.clientPort],
      ["gateway.ports.internal", DEFAULTS.internalPort],
      ["gateway.ports.metrics", DEFAULTS.gatewayMetricsPort],
      ["gateway.service.type", DEFAULTS.serviceType],
      ["gateway.drainSeconds", DEFAULTS.drainSeconds],
      ["gateway.maxConnections", DEFAULTS.maxConnections],
      ["logic.replicas", DEFAULTS.logicReplicas],
      ["logic.ports.api", DEFAULTS.apiPort],
      ["logic.ports.metrics", DEFAULTS.logicMetricsPort],
      ["store.nats.stream.name", DEFAULTS.streamName],
      ["store.nats.stream.replicas", DEFAULTS.streamReplicas],
      ["store.nats.stream.maxAge", DEFAULTS.streamMaxAge],
      ["store.nats.stream.duplicateWindow", DEFAULTS.duplicateWindow],
      ["store.sqlite.size", DEFAULTS.sqliteSize],
      ["auth.jwt.secretKeyRef.key", DEFAULTS.jwtKey],
      ["auth.jwks.secretKeyRef.key", DEFAULTS.jwksKey],
      ["auth.jwks.configMapKeyRef.key", DEFAULTS.jwksKey],
      ["auth.apiKeys.secretKeyRef.key", DEFAULTS.apiKeysKey],
      ["metrics.serviceMonitor.interval", DEFAULTS.serviceMonitorInterval],
      ["metrics.serviceMonitor.enabled", false],
    ];
    for (const [path, want] of pairs) assert.equal(schemaAt(spec, path).default, want, path);
  });

  it("resolve a minimal spec completely", () => {
    const r = resolveSpec({ store: { sqlite: {} } });
    assert.equal(r.store.kind, "sqlite");
    assert.equal(r.gateway.ports.client, 8080);
    assert.equal(r.logic.replicas, 2);
    assert.equal(r.serviceMonitor.enabled, false);
  });
});
