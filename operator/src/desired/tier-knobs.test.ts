import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type {
  KubernetesObject,
  V1Deployment,
  V1Ingress,
  V1Service,
  V1StatefulSet,
} from "@kubernetes/client-node";
import type { ChatClusterSpec } from "../api/chatcluster-types.ts";
import { CRD_PATH, chatCluster, readYamlPlain } from "../testing/fixtures.ts";
import type { HttpRoute } from "./client-routes.ts";
import { buildDesired, type DesiredOptions } from "./index.ts";

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  "x-kubernetes-validations"?: { rule: string }[];
}

const OPTS: DesiredOptions = { defaultImage: "r/cc:1", serviceMonitorAvailable: false };

function build(spec: Partial<ChatClusterSpec>, opts: Partial<DesiredOptions> = {}) {
  const d = buildDesired(chatCluster(spec), { ...OPTS, ...opts });
  const one = <T extends KubernetesObject>(kind: string, name?: string) =>
    d.objects.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name)) as
      | T
      | undefined;
  return {
    d,
    one,
    gateway: one<V1StatefulSet>("StatefulSet")?.spec?.template,
    logic: one<V1Deployment>("Deployment")?.spec?.template,
  };
}

const json = (v: unknown) => JSON.stringify(v);

describe("the knobs of each tier", () => {
  it("put pod labels, annotations, priority, env and placement on their own tier only", () => {
    const base = build({ placement: { nodeSelector: { pool: "chat" } } });
    const gw = build({
      placement: { nodeSelector: { pool: "chat" } },
      gateway: {
        podLabels: { team: "edge" },
        podAnnotations: { "vault.hashicorp.com/agent-inject": "true" },
        priorityClassName: "chat-gateway",
        env: [{ name: "CHATCLUSTER_LOG_LEVEL", value: "debug" }],
        placement: { tolerations: [{ key: "edge", operator: "Exists" }] },
      },
    });
    const t = gw.gateway!;
    assert.equal(t.metadata?.labels?.team, "edge");
    assert.equal(t.metadata?.labels?.["app.kubernetes.io/component"], "gateway");
    assert.equal(t.metadata?.annotations?.["vault.hashicorp.com/agent-inject"], "true");
    assert.ok(t.metadata?.annotations?.["chatcluster.io/config-hash"]);
    assert.equal(t.spec?.priorityClassName, "chat-gateway");
    assert.deepEqual(t.spec?.containers[0]?.env?.at(-1), { name: "CHATCLUSTER_LOG_LEVEL", value: "debug" });
    // The tier's placement replaces spec.placement field by field: nodeSelector stays shared.
    assert.deepEqual(t.spec?.nodeSelector, { pool: "chat" });
    assert.deepEqual(t.spec?.tolerations, [{ key: "edge", operator: "Exists" }]);
    // A gateway-only field leaves the logic pod template byte for byte as it was.
    assert.equal(json(gw.logic), json(base.logic));

    const lg = build({
      placement: { nodeSelector: { pool: "chat" } },
      logic: {
        podLabels: { team: "backend" },
        priorityClassName: "chat-logic",
        env: [{ name: "CHATCLUSTER_MAX_BODY_BYTES", value: "65536" }],
        placement: { nodeSelector: { pool: "logic" } },
      },
    });
    assert.equal(lg.logic?.metadata?.labels?.team, "backend");
    assert.deepEqual(lg.logic?.spec?.nodeSelector, { pool: "logic" });
    assert.equal(lg.logic?.spec?.priorityClassName, "chat-logic");
    assert.equal(
      json(lg.gateway),
      json(base.gateway),
      "a logic-only field leaves the gateway template alone",
    );
  });

  it("give both tiers the image pull secrets", () => {
    const b = build({ imagePullSecrets: [{ name: "regcred" }] });
    assert.deepEqual(b.gateway?.spec?.imagePullSecrets, [{ name: "regcred" }]);
    assert.deepEqual(b.logic?.spec?.imagePullSecrets, [{ name: "regcred" }]);
  });

  it("patch a tier's pod template strategically: a sidecar, a volume, a merged env", () => {
    const b = build({
      gateway: {
        podTemplate: {
          metadata: { annotations: { "sidecar.istio.io/inject": "false" } },
          spec: {
            containers: [
              { name: "gateway", env: [{ name: "NODE_OPTIONS", value: "--max-old-space-size=1536" }] },
              { name: "log-shipper", image: "fluent/fluent-bit:3.0" },
            ],
            volumes: [{ name: "extra", emptyDir: {} }],
            dnsPolicy: "ClusterFirstWithHostNet",
          },
        },
      },
    });
    const spec = b.gateway!.spec!;
    assert.deepEqual(
      spec.containers.map((c) => c.name),
      ["gateway", "log-shipper"],
    );
    assert.equal(spec.containers[0]?.image, "r/cc:1");
    assert.deepEqual(spec.containers[0]?.env?.at(-1), {
      name: "NODE_OPTIONS",
      value: "--max-old-space-size=1536",
    });
    assert.ok(
      spec.containers[0]?.env?.some((e) => e.name === "CHATCLUSTER_GATEWAY_ID"),
      "operator env kept",
    );
    assert.deepEqual(
      spec.volumes?.map((v) => v.name),
      ["tmp", "extra"],
    );
    assert.equal(spec.dnsPolicy, "ClusterFirstWithHostNet");
    assert.equal(b.gateway?.metadata?.annotations?.["sidecar.istio.io/inject"], "false");
    assert.deepEqual(b.d.invalid, []);
  });

  it("leave a workload out, saying why, when its podTemplate patch does not apply", () => {
    const b = build({
      gateway: {
        replicas: 3,
        podTemplate: { spec: { containers: [{ $patch: "replace" }, { name: "other" }] } } as never,
      },
      logic: { podTemplate: { spec: { volumes: [{ emptyDir: {} }] } } as never },
    });
    assert.equal(b.one("StatefulSet"), undefined);
    assert.equal(b.one("Deployment"), undefined);
    assert.deepEqual(b.d.invalid, [
      "spec.gateway.podTemplate.spec.containers: the patch removes the gateway container",
      "spec.logic.podTemplate: spec.volumes: every item needs its merge key name",
    ]);
    // Everything else is still applied.
    assert.ok(b.one("Service", "demo-gateway"));
  });

  it("set the client Service's traffic policy and source ranges, and the logic Service's type", () => {
    const b = build({
      gateway: {
        service: {
          type: "LoadBalancer",
          externalTrafficPolicy: "Local",
          loadBalancerSourceRanges: ["203.0.113.0/24"],
        },
      },
      logic: {
        service: {
          type: "LoadBalancer",
          annotations: { "networking.gke.io/load-balancer-type": "Internal" },
        },
      },
    });
    const client = b.one<V1Service>("Service", "demo-gateway")!;
    assert.equal(client.spec?.externalTrafficPolicy, "Local");
    assert.deepEqual(client.spec?.loadBalancerSourceRanges, ["203.0.113.0/24"]);
    const logic = b.one<V1Service>("Service", "demo-logic")!;
    assert.equal(logic.spec?.type, "LoadBalancer");
    assert.equal(logic.metadata?.annotations?.["networking.gke.io/load-balancer-type"], "Internal");
    assert.equal(json(b.gateway), json(build({}).gateway), "Service settings touch no pod template");
    assert.equal(json(b.logic), json(build({}).logic));
  });

  it("route to the client Service with an Ingress or an HTTPRoute, and delete them when disabled", () => {
    const b = build(
      {
        gateway: {
          ingress: {
            className: "nginx",
            host: "chat.example.com",
            annotations: { "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600" },
            tls: { secretName: "chat-tls" },
          },
          httpRoute: {
            parentRefs: [{ name: "public", namespace: "gateways" }],
            hostnames: ["chat.example.com"],
            timeouts: { request: "0s" },
          },
        },
      },
      { httpRouteAvailable: true },
    );
    const ing = b.one<V1Ingress>("Ingress")!;
    assert.equal(ing.metadata?.name, "demo-gateway");
    assert.equal(ing.spec?.ingressClassName, "nginx");
    assert.deepEqual(ing.spec?.tls, [{ hosts: ["chat.example.com"], secretName: "chat-tls" }]);
    const path = ing.spec?.rules?.[0]?.http?.paths[0];
    assert.deepEqual(path, {
      path: "/",
      pathType: "Prefix",
      backend: { service: { name: "demo-gateway", port: { name: "client" } } },
    });
    const route = b.one<HttpRoute>("HTTPRoute")!;
    assert.deepEqual(route.spec, {
      parentRefs: [{ name: "public", namespace: "gateways" }],
      hostnames: ["chat.example.com"],
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/" } }],
          backendRefs: [{ name: "demo-gateway", port: 8080 }],
          timeouts: { request: "0s" },
        },
      ],
    });
    assert.equal(json(b.gateway), json(build({}).gateway), "routes touch no pod template");

    const off = build(
      { gateway: { ingress: { enabled: false, host: "chat.example.com" } } },
      { httpRouteAvailable: true },
    );
    assert.equal(off.one("Ingress"), undefined);
    assert.deepEqual(
      off.d.absent.map((a) => `${a.kind}/${a.name}`),
      ["Ingress/demo-gateway", "HTTPRoute/demo-gateway"],
    );
    // Without the Gateway API nothing is built or deleted for it.
    const noApi = build({ gateway: { httpRoute: { parentRefs: [{ name: "public" }] } } });
    assert.equal(noApi.one("HTTPRoute"), undefined);
    assert.ok(!noApi.d.absent.some((a) => a.kind === "HTTPRoute"));
  });
});

describe("the env names the CRD refuses", () => {
  const crd = readYamlPlain<{ spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] } }>(CRD_PATH);
  const spec = crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
  const refused = (tier: "gateway" | "logic") => {
    const rules = spec.properties![tier]!.properties!.env!.items!["x-kubernetes-validations"]!;
    const rule = rules.find((r) => r.rule.includes("CHATCLUSTER_"))!.rule;
    return new Set([...rule.matchAll(/'(CHATCLUSTER_[A-Z_]+)'/g)].map((m) => m[1]!));
  };
  /** Key sources the operator does not set but that would clash with the one it sets. */
  const ALTERNATIVES = new Set([
    "CHATCLUSTER_JWT_SECRET_FILE",
    "CHATCLUSTER_JWT_PUBLIC_KEY_FILE",
    "CHATCLUSTER_API_KEYS_FILE",
    "CHATCLUSTER_JWT_PREVIOUS_SECRET",
    "CHATCLUSTER_INTERNAL_SECRET_PREVIOUS",
    "CHATCLUSTER_PRINCIPAL_KEY_PREVIOUS",
  ]);

  it("are exactly those the operator sets for each tier, plus the key sources that would clash", () => {
    const specs: Partial<ChatClusterSpec>[] = [
      { auth: { jwt: { secretKeyRef: { name: "a" } }, apiKeys: { secretKeyRef: { name: "a" } } } },
      { auth: { jwks: { secretKeyRef: { name: "a" } } } },
      { store: { sqlite: {} }, logic: { replicas: 1 } },
    ];
    for (const tier of ["gateway", "logic"] as const) {
      const set = new Set<string>();
      for (const s of specs) {
        const d = buildDesired(chatCluster(s), { ...OPTS, trust: { internalTls: true, principalKey: true } });
        const t = tier === "gateway" ? "StatefulSet" : "Deployment";
        const w = d.objects.find((o) => o.kind === t) as V1StatefulSet;
        for (const e of w.spec?.template.spec?.containers[0]?.env ?? []) set.add(e.name);
        const cm = d.objects.find((o) => o.metadata?.name === `demo-${tier}-config`) as { data: object };
        for (const k of Object.keys(cm.data)) set.add(k);
      }
      const expected = [...set].sort();
      const actual = [...refused(tier)].filter((n) => !ALTERNATIVES.has(n)).sort();
      assert.deepEqual(actual, expected, `${tier}: the CRD's env rule lists what the operator sets`);
    }
  });
});
