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
      ["upgradePolicy", DEFAULTS.upgradePolicy],
      ["gateway.rollout.minIntervalSeconds", DEFAULTS.rolloutMinIntervalSeconds],
      ["gateway.rollout.paused", false],
      ["store.sqlite.deletePolicy", DEFAULTS.sqliteDeletePolicy],
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
      ["logic.hooks.secretKeyRef.key", DEFAULTS.hooksSecretKey],
      ["metrics.serviceMonitor.interval", DEFAULTS.serviceMonitorInterval],
      ["metrics.serviceMonitor.enabled", false],
    ];
    for (const [path, want] of pairs) assert.equal(schemaAt(spec, path).default, want, path);
    // A tier's pull policy must stay unset unless given, or spec.image.pullPolicy could never apply to it.
    for (const tier of ["gateway", "logic"]) {
      assert.equal(schemaAt(spec, `${tier}.image.pullPolicy`).default, undefined, tier);
      assert.equal(schemaAt(spec, `${tier}.image`).default, undefined, tier);
    }
  });

  it("resolve a minimal spec completely", () => {
    const r = resolveSpec({ store: { sqlite: {} } });
    assert.equal(r.store.kind, "sqlite");
    assert.equal(r.gateway.ports.client, 8080);
    assert.equal(r.logic.replicas, 2);
    assert.equal(r.serviceMonitor.enabled, false);
    assert.equal(r.upgradePolicy, "Manual");
    assert.deepEqual(r.gateway.rollout, { minIntervalSeconds: 10, paused: false });
    assert.equal(r.store.kind === "sqlite" && r.store.deletePolicy, "Retain");
  });

  it("give each tier spec.image's fields unless it sets its own, taking tag and digest together", () => {
    const r = resolveSpec({
      store: { sqlite: {} },
      image: { repository: "r/cc", digest: "sha256:aa", pullPolicy: "Always" },
      logic: { image: { tag: "2.0" } },
      gateway: { image: { repository: "mirror/cc", pullPolicy: "Never" } },
    });
    // logic sets a tag: it takes neither tag nor digest from spec.image, so no digest overrides its tag.
    assert.deepEqual(r.images.logic, { repository: "r/cc", tag: "2.0", pullPolicy: "Always" });
    assert.deepEqual(r.images.gateway, { repository: "mirror/cc", digest: "sha256:aa", pullPolicy: "Never" });
    assert.deepEqual(resolveSpec({ store: { sqlite: {} } }).images.gateway, { pullPolicy: "IfNotPresent" });
  });
});
