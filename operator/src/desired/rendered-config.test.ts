import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { V1ConfigMap, V1Container, V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import {
  gatewayFlags,
  internalLinkGaps as gatewayGaps,
  internalTlsFrom,
  validateGatewayConfig,
} from "../../../gateway/src/config.ts";
import {
  gatewayTlsFrom,
  logicFlags,
  internalLinkGaps as logicGaps,
  validateLogicConfig,
} from "../../../logic/src/config.ts";
import { parseFlags } from "../../../platform/flags.ts";
import type { ChatClusterSpec } from "../api/chatcluster-types.ts";
import { planPki } from "../certs/internal-pki.ts";
import { chatCluster } from "../testing/fixtures.ts";
import { buildDesired } from "./index.ts";
import { INTERNAL_TLS_DIR } from "./internal-trust.ts";

/**
 * The args and env the operator renders for each tier pass the processes' own
 * flag parsers and validation, with the mounted Secret files stood in by temp
 * files holding certificates the operator's PKI issued: a pod started from
 * these templates would not exit on its config.
 */

const dir = mkdtempSync(join(tmpdir(), "cc-rendered-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const pki = planPki(
  { ca: undefined, gateway: undefined, logic: undefined },
  { namespace: "chat", chatCluster: "demo", leafLifetimeMs: 86_400_000, propagationMs: 60_000 },
  Date.now(),
).state;
for (const tier of ["gateway", "logic"] as const) {
  const d = join(dir, tier);
  mkdirSync(d);
  writeFileSync(join(d, "tls.crt"), pki[tier].cert);
  writeFileSync(join(d, "tls.key"), pki[tier].key);
  writeFileSync(join(d, "ca.crt"), pki[tier].bundle);
}

/** Secret values a real cluster would hold, long enough for every check. */
const SECRET_VALUES: Record<string, string> = {
  "demo-internal-token/token": "t".repeat(43),
  "demo-principal-key/key": "p".repeat(43),
  "chat-auth/secret": "j".repeat(40),
};

/** argv and env as the container would see them (downward API and Secrets resolved, mounted paths faked). */
function rendered(
  container: V1Container,
  config: V1ConfigMap,
  tier: "gateway" | "logic",
): { argv: string[]; env: Record<string, string> } {
  const files = join(dir, tier);
  const argv = (container.args ?? []).slice(1).map((a) => a.replace(INTERNAL_TLS_DIR, files));
  const env: Record<string, string> = { ...config.data };
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (field !== undefined) env[e.name] = field === "metadata.name" ? `demo-${tier}-0` : "chat";
    const ref = e.valueFrom?.secretKeyRef;
    if (ref !== undefined) {
      const v = SECRET_VALUES[`${ref.name}/${ref.key}`];
      if (v !== undefined) env[e.name] = v;
      else assert.equal(ref.optional, true, `${e.name}: no value for ${ref.name}/${ref.key}`);
    }
  }
  return { argv, env };
}

function workloads(spec: Partial<ChatClusterSpec>) {
  const d = buildDesired(chatCluster(spec), {
    defaultImage: "ghcr.io/chatcluster/chatcluster:0.1.0",
    serviceMonitorAvailable: false,
    trust: { internalTls: true, principalKey: true },
  });
  const find = <T>(kind: string, name?: string) =>
    d.objects.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name)) as T;
  return {
    sts: find<V1StatefulSet>("StatefulSet"),
    dep: find<V1Deployment>("Deployment"),
    gatewayConfig: find<V1ConfigMap>("ConfigMap", "demo-gateway-config"),
    logicConfig: find<V1ConfigMap>("ConfigMap", "demo-logic-config"),
  };
}

describe("the args and env the operator renders", () => {
  for (const [label, spec] of Object.entries({
    nats: {},
    sqlite: { store: { sqlite: {} }, logic: { replicas: 1 } },
  } satisfies Record<string, Partial<ChatClusterSpec>>)) {
    it(`pass the gateway's and logic's own validation, with TLS both ways and nothing lacking (${label})`, () => {
      const w = workloads(spec);
      const g = rendered(w.sts.spec!.template.spec!.containers[0]!, w.gatewayConfig, "gateway");
      const gw = parseFlags(gatewayFlags, g.argv, g.env);
      validateGatewayConfig(gw);
      assert.deepEqual(gatewayGaps(gw), []);
      const server = internalTlsFrom(gw);
      assert.equal(server?.clientName, "logic.chat.demo.chatcluster.internal");
      assert.equal(server?.caFile, join(dir, "gateway", "ca.crt"));

      const l = rendered(w.dep.spec!.template.spec!.containers[0]!, w.logicConfig, "logic");
      const lg = parseFlags(logicFlags, l.argv, l.env);
      validateLogicConfig(lg);
      assert.deepEqual(logicGaps(lg), []);
      assert.equal(lg.principalKey.length, 43);
      const client = gatewayTlsFrom(lg);
      assert.equal(client?.serverName, "gateway.chat.demo.chatcluster.internal");
      assert.equal(client?.certFile, join(dir, "logic", "tls.crt"));
    });
  }

  it("never give a gateway the principal key", () => {
    const w = workloads({});
    const env = w.sts.spec!.template.spec!.containers[0]!.env ?? [];
    assert.ok(!env.some((e) => e.name.startsWith("CHATCLUSTER_PRINCIPAL_KEY")));
    assert.ok(!Object.keys(w.gatewayConfig.data ?? {}).some((k) => k.startsWith("CHATCLUSTER_PRINCIPAL")));
  });
});
