import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ChatClusterSpec } from "../api/chatcluster-types.ts";
import { chatCluster } from "../testing/fixtures.ts";
import { buildDesired } from "./index.ts";
import type { NetworkPolicy } from "./network-policies.ts";

const OPTS = { defaultImage: "r/cc:1", serviceMonitorAvailable: false };
const policies = (spec: Partial<ChatClusterSpec> = {}) => {
  const d = buildDesired(chatCluster(spec), OPTS);
  const np = (name: string) =>
    d.objects.find((o) => o.kind === "NetworkPolicy" && o.metadata?.name === name) as
      | NetworkPolicy
      | undefined;
  return { d, gateway: np("demo-gateway"), logic: np("demo-logic") };
};
const GATEWAY = { "app.kubernetes.io/name": "chatcluster", "app.kubernetes.io/instance": "demo" };

describe("the NetworkPolicies of a ChatCluster", () => {
  it("admit only this ChatCluster's logic pods to the internal port, and anyone elsewhere by default", () => {
    const { gateway, logic } = policies();
    assert.deepEqual(gateway?.spec, {
      podSelector: { matchLabels: { ...GATEWAY, "app.kubernetes.io/component": "gateway" } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          ports: [{ port: "internal", protocol: "TCP" }],
          from: [{ podSelector: { matchLabels: { ...GATEWAY, "app.kubernetes.io/component": "logic" } } }],
        },
        { ports: [{ port: "client", protocol: "TCP" }] },
        { ports: [{ port: "metrics", protocol: "TCP" }] },
      ],
    });
    assert.deepEqual(logic?.spec, {
      podSelector: { matchLabels: { ...GATEWAY, "app.kubernetes.io/component": "logic" } },
      policyTypes: ["Ingress"],
      ingress: [
        { ports: [{ port: "api", protocol: "TCP" }] },
        { ports: [{ port: "metrics", protocol: "TCP" }] },
      ],
    });
  });

  it("admit the listed peers to the client port, the server API and the metrics ports", () => {
    const backends = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "backend" } } };
    const prometheus = {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
      podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
    };
    const lb = { ipBlock: { cidr: "10.0.0.0/8" } };
    const { gateway, logic } = policies({
      networkPolicy: {
        client: { from: [lb] },
        serverApi: { from: [backends] },
        metrics: { from: [prometheus] },
      },
    });
    assert.deepEqual(gateway?.spec?.ingress?.[1]?.from, [lb]);
    assert.deepEqual(gateway?.spec?.ingress?.[2]?.from, [prometheus]);
    assert.deepEqual(logic?.spec?.ingress?.[0]?.from, [backends]);
    assert.deepEqual(logic?.spec?.ingress?.[1]?.from, [prometheus]);
  });

  it("are deleted when disabled, and touch no pod template either way", () => {
    const on = policies();
    const off = policies({ networkPolicy: { enabled: false } });
    assert.equal(off.gateway, undefined);
    assert.deepEqual(
      off.d.absent.filter((a) => a.kind === "NetworkPolicy").map((a) => a.name),
      ["demo-gateway", "demo-logic"],
    );
    const templates = (d: typeof on.d) =>
      JSON.stringify(d.objects.filter((o) => o.kind === "StatefulSet" || o.kind === "Deployment"));
    assert.equal(templates(off.d), templates(on.d));
  });
});
