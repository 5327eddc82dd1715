/**
 * The knobs of a ChatCluster on a real control plane with kwok pods: what
 * each puts on the workloads is accepted by the real API server and
 * scheduler (a podTemplate patch included), spec.paused stops every change,
 * and an HTTPRoute asked for before the Gateway API exists is created within
 * seconds of its CRD while Ready stays True.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { recordResult } from "../../reliability/results.ts";
import {
  type ControlPlane,
  needsReal,
  startControlPlane,
  trackFailures,
} from "../../testenv/harness/index.ts";
import { KubeApi, resourcePath } from "./kube-api.ts";
import { clusterHelpers, conditionOf, type Obj } from "./testing/cluster-helpers.ts";
import { eventually, type OperatorProcess, spawnOperator } from "./testing/operator-process.ts";

const NS = "knobs";

const manifest = (name: string, spec: unknown) =>
  JSON.stringify({ apiVersion: "chatcluster.io/v1alpha1", kind: "ChatCluster", metadata: { name }, spec });
const BASE = {
  store: { nats: { url: "nats://nats:4222" } },
  auth: { jwt: { secretKeyRef: { name: "chat-auth" } } },
};

describe("ChatCluster knobs on a real control plane", {
  timeout: 600_000,
  skip: needsReal("a control plane (make testenv)"),
}, () => {
  const failed = trackFailures();
  let cp: ControlPlane;
  let dir: string;
  let api: KubeApi;
  let op: OperatorProcess;
  const { kubectl, get, tryGet, applyYaml, installCrd, applySecret } = clusterHelpers(
    () => (args) => cp.kubectl(args),
    NS,
    () => dir,
  );
  const condition = conditionOf;
  /** The ChatCluster once the operator has processed its latest spec and check holds. */
  const current = (name: string, what: string, check: (cc: Obj) => boolean, timeoutMs = 120_000) =>
    eventually(
      what,
      async () => {
        const cc = await get("chatcluster", name);
        return cc.status?.observedGeneration === cc.metadata.generation && check(cc) ? cc : undefined;
      },
      timeoutMs,
    );
  const patch = (name: string, spec: unknown) =>
    api.mergePatch(resourcePath("ChatCluster", NS, name), { spec });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "chatcluster-knobs-"));
    cp = await startControlPlane({ kwok: true, name: "operator-knobs" });
    api = new KubeApi(cp.kubeConfig);
    await installCrd();
    await kubectl("create", "namespace", NS);
    await applySecret("chat-auth", { secret: "0123456789abcdef0123456789abcdef" });
    await applySecret("regcred", { ".dockerconfigjson": "{}" });
    await applyYaml(
      "priority.yaml",
      "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: chat-gateway}\nvalue: 1000\n",
    );
    // Discovery an hour apart: an API that appears later is found by the watch on its CRD.
    op = await spawnOperator(cp.kubeconfigPath, "op-knobs", cp.logsDir, [
      "--leader-elect=false",
      "--discovery-interval=1h",
    ]);
  });

  after(async () => {
    await op?.stop();
    if (failed()) console.error(`--- operator log tail\n${op?.logTail(60)}`);
    api?.close();
    await cp?.stop({ failed: failed() });
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("puts every knob on the workloads, Services and Ingress, accepted by the API server and the scheduler", async () => {
    await applyYaml(
      "full.json",
      manifest("full", {
        ...BASE,
        imagePullSecrets: [{ name: "regcred" }],
        gateway: {
          replicas: 2,
          podLabels: { "example.com/team": "edge" },
          podAnnotations: { "example.com/scrape": "true" },
          priorityClassName: "chat-gateway",
          env: [{ name: "CHATCLUSTER_LOG_LEVEL", value: "debug" }],
          placement: { tolerations: [{ key: "edge", operator: "Exists", effect: "NoSchedule" }] },
          podTemplate: {
            spec: {
              containers: [
                { name: "gateway", env: [{ name: "NODE_OPTIONS", value: "--max-old-space-size=512" }] },
                { name: "shipper", image: "fluent/fluent-bit:3.0" },
              ],
              volumes: [{ name: "spool", emptyDir: {} }],
            },
          },
          service: {
            type: "LoadBalancer",
            externalTrafficPolicy: "Local",
            loadBalancerSourceRanges: ["203.0.113.0/24"],
          },
          ingress: {
            className: "nginx",
            host: "chat.example.com",
            annotations: { "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600" },
          },
        },
        logic: {
          replicas: 1,
          service: { type: "NodePort" },
          env: [{ name: "CHATCLUSTER_MAX_BODY_BYTES", value: "32768" }],
        },
      }),
    );
    const cc = await current("full", "full Ready", (c) => condition(c, "Ready")?.status === "True");
    assert.equal(cc.status.gateway.ready, "2/2");
    const sts = await get("statefulset", "full-gateway");
    const pod = sts.spec.template;
    assert.equal(pod.metadata.labels["example.com/team"], "edge");
    assert.equal(pod.metadata.annotations["example.com/scrape"], "true");
    assert.equal(pod.spec.priorityClassName, "chat-gateway");
    assert.deepEqual(pod.spec.imagePullSecrets, [{ name: "regcred" }]);
    assert.deepEqual(
      pod.spec.containers.map((c: { name: string }) => c.name),
      ["gateway", "shipper"],
    );
    const env = pod.spec.containers[0].env.map((e: { name: string }) => e.name);
    assert.ok(env.includes("CHATCLUSTER_LOG_LEVEL") && env.includes("NODE_OPTIONS"));
    // The pods exist with what the template says (the priority admission plugin resolved the class).
    const gwPod = await get("pod", "full-gateway-0");
    assert.equal(gwPod.spec.priority, 1000);
    const client = await get("service", "full-gateway");
    assert.equal(client.spec.externalTrafficPolicy, "Local");
    assert.deepEqual(client.spec.loadBalancerSourceRanges, ["203.0.113.0/24"]);
    assert.equal((await get("service", "full-logic")).spec.type, "NodePort");
    const ing = await get("ingress", "full-gateway");
    assert.equal(ing.spec.rules[0].http.paths[0].backend.service.name, "full-gateway");
    assert.equal(ing.metadata.labels?.["app.kubernetes.io/managed-by"], "chatcluster-operator");

    // Disabled: the Ingress goes, nothing else changes.
    await patch("full", { gateway: { ingress: { enabled: false } } });
    await eventually("the Ingress deleted", async () =>
      (await tryGet("ingress", "full-gateway")) === undefined ? true : undefined,
    );
    assert.equal((await get("statefulset", "full-gateway")).metadata.generation, sts.metadata.generation);
  });

  it("changes nothing while spec.paused, and catches up when unpaused", async () => {
    await applyYaml("p.json", manifest("p", { ...BASE, gateway: { replicas: 2 }, logic: { replicas: 1 } }));
    await current("p", "p Ready", (c) => condition(c, "Ready")?.status === "True");
    const before = { sts: await get("statefulset", "p-gateway"), dep: await get("deployment", "p-logic") };

    await patch("p", { paused: true });
    const paused = await current(
      "p",
      "Progressing ReconcilePaused",
      (c) => condition(c, "Progressing")?.reason === "ReconcilePaused",
    );
    assert.equal(condition(paused, "Ready")?.status, "True", "status still reports the pods");
    await patch("p", { image: { tag: "9.9.9" }, gateway: { replicas: 3 } });
    await kubectl("delete", "service", "p-gateway", "-n", NS);
    await current(
      "p",
      "the paused edit reconciled",
      (c) => condition(c, "Progressing")?.reason === "ReconcilePaused",
    );
    // A later reconcile of the same key has seen the deleted Service too (a poke), and still changed nothing.
    await api.mergePatch(resourcePath("ChatCluster", NS, "p"), {
      metadata: { annotations: { "test.chatcluster.io/poke": "1" } },
    });
    await current(
      "p",
      "the poke reconciled",
      (c) => condition(c, "Progressing")?.reason === "ReconcilePaused",
    );
    assert.equal(
      await tryGet("service", "p-gateway"),
      undefined,
      "a deleted child is not recreated while paused",
    );
    const sts = await get("statefulset", "p-gateway");
    assert.equal(sts.metadata.generation, before.sts.metadata.generation);
    assert.equal(sts.spec.replicas, 2);
    assert.equal((await get("deployment", "p-logic")).metadata.generation, before.dep.metadata.generation);

    await patch("p", { paused: false });
    await eventually("the Service recreated", () => tryGet("service", "p-gateway"));
    const resumed = await eventually("the new image and replicas applied", async () => {
      const s = await get("statefulset", "p-gateway");
      return s.spec.replicas === 3 && s.spec.template.spec.containers[0].image.endsWith(":9.9.9")
        ? s
        : undefined;
    });
    assert.ok(resumed);
  });

  it("says the HTTPRoute API is missing without touching Ready, and creates the route within seconds of its CRD", async () => {
    await applyYaml(
      "route.json",
      manifest("route", {
        ...BASE,
        gateway: {
          replicas: 1,
          httpRoute: {
            parentRefs: [{ name: "public", namespace: "gateways" }],
            hostnames: ["chat.example.com"],
          },
        },
        logic: { replicas: 1 },
      }),
    );
    const missing = await current(
      "route",
      "HTTPRouteReady=False with Ready=True",
      (c) =>
        condition(c, "Ready")?.status === "True" &&
        condition(c, "HTTPRouteReady")?.reason === "HTTPRouteAPIMissing",
    );
    assert.equal(condition(missing, "HTTPRouteReady")?.status, "False");
    await applyYaml(
      "httproute-crd.yaml",
      [
        "apiVersion: apiextensions.k8s.io/v1",
        "kind: CustomResourceDefinition",
        "metadata:",
        "  name: httproutes.gateway.networking.k8s.io",
        // *.k8s.io groups need it, as the Gateway API's own CRDs carry it.
        "  annotations: {api-approved.kubernetes.io: 'https://github.com/kubernetes-sigs/gateway-api/pull/1923'}",
        "spec:",
        "  group: gateway.networking.k8s.io",
        "  scope: Namespaced",
        "  names: {kind: HTTPRoute, listKind: HTTPRouteList, plural: httproutes, singular: httproute}",
        "  versions:",
        "    - name: v1",
        "      served: true",
        "      storage: true",
        "      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}",
        "",
      ].join("\n"),
    );
    const route = await eventually(
      "HTTPRoute route-gateway",
      () => tryGet("httproute", "route-gateway"),
      30_000,
    );
    assert.deepEqual(route.spec.rules[0].backendRefs, [{ name: "route-gateway", port: 8080 }]);
    assert.deepEqual(route.spec.parentRefs, [{ name: "public", namespace: "gateways" }]);
    await current("route", "HTTPRouteReady=True", (c) => condition(c, "HTTPRouteReady")?.status === "True");
  });

  it("creates NetworkPolicies whose selectors pick exactly this ChatCluster's pods, and deletes them when disabled", async () => {
    const t0 = performance.now();
    await applyYaml(
      "np.json",
      manifest("np", {
        ...BASE,
        gateway: { replicas: 2 },
        logic: { replicas: 1 },
        networkPolicy: {
          serverApi: {
            from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "backend" } } }],
          },
        },
      }),
    );
    await current("np", "np Ready", (c) => condition(c, "Ready")?.status === "True");
    const selected = async (selector: { matchLabels: Record<string, string> }) => {
      const labels = Object.entries(selector.matchLabels)
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
      return (await kubectl("get", "pods", "-n", NS, "-l", labels, "-o", "name")).trim().split("\n").sort();
    };
    const gw = await eventually("NetworkPolicy np-gateway", () => tryGet("networkpolicy", "np-gateway"));
    const lg = await eventually("NetworkPolicy np-logic", () => tryGet("networkpolicy", "np-logic"));
    // Other ChatClusters share the namespace: each policy must pick this one's pods only.
    assert.deepEqual(await selected(gw.spec.podSelector), ["pod/np-gateway-0", "pod/np-gateway-1"]);
    const internal = gw.spec.ingress[0];
    assert.deepEqual(internal.ports, [{ port: "internal", protocol: "TCP" }]);
    const logicPods = await selected(internal.from[0].podSelector);
    assert.equal(logicPods.length, 1);
    assert.match(logicPods[0]!, /^pod\/np-logic-/);
    assert.deepEqual(await selected(lg.spec.podSelector), logicPods);
    assert.deepEqual(lg.spec.ingress[0].from, [
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "backend" } } },
    ]);
    assert.equal(lg.spec.ingress[1].from, undefined, "metrics: any source when none is listed");

    await patch("np", { networkPolicy: { enabled: false } });
    await eventually("both NetworkPolicies deleted", async () =>
      (await tryGet("networkpolicy", "np-gateway")) === undefined &&
      (await tryGet("networkpolicy", "np-logic")) === undefined
        ? true
        : undefined,
    );
    recordResult({
      id: "security-network-policies",
      kind: "security",
      load: "a ChatCluster beside others in its namespace, on a real kube-apiserver and etcd with kwok nodes, the operator as a process",
      fault:
        "spec.networkPolicy on, the server API open to one namespace; then turned off (operator/src/knobs.integration.test.ts)",
      outcome:
        "np-gateway selects exactly this ChatCluster's 2 gateway pods and admits its internal port from this ChatCluster's logic pod only; np-logic admits the server API from the listed namespace only, metrics from anywhere when no source is listed; both deleted when turned off. Enforcement is the network plugin's: the test machines have none that enforces policies",
      lost: null,
      durationMs: performance.now() - t0,
    });
  });
});
