/**
 * The operator against a real control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, kwok): `bin/chatcluster operator`
 * runs as child processes, exactly as in a cluster. Needs `make testenv`.
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
import { clusterHelpers } from "./testing/cluster-helpers.ts";
import { eventually, type OperatorProcess, spawnOperator } from "./testing/operator-process.ts";

const NS = "chat";
// `make test-unit` opts out explicitly; otherwise a missing testenv fails with "run `make testenv`".
const CRD = new URL("../../crds/chatclusters.chatcluster.io.yaml", import.meta.url).pathname;
const EXAMPLE = new URL("../../docs/examples/chatcluster.yaml", import.meta.url).pathname;
/** Short lease timings so failover in the test takes seconds, not the production 15s. */
const LEASE_FLAGS = ["--lease-duration=6s", "--renew-deadline=4s", "--retry-period=500ms"];

describe("operator against a real control plane", {
  timeout: 600_000,
  skip: needsReal("a control plane (make testenv)"),
}, () => {
  const failed = trackFailures();
  let cp: ControlPlane;
  let dir: string;
  const operators: OperatorProcess[] = [];

  const { kubectl, get, tryGet, applyYaml, leaseHolder, installCrd, applySecret } = clusterHelpers(
    () => (args) => cp.kubectl(args),
    NS,
    () => dir,
  );

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "chatcluster-operator-test-"));
    // A missing binary throws "<name> not found in <dir>: run `make testenv`": the test fails, never skips.
    cp = await startControlPlane({ kwok: true, name: "operator" });
    await installCrd();
    await kubectl("create", "namespace", NS);
    await applySecret("chat-auth", { secret: "0123456789abcdef0123456789abcdef", "api-keys": "k1" });
    operators.push(await spawnOperator(cp.kubeconfigPath, "op-a", cp.logsDir, LEASE_FLAGS));
  });

  after(async () => {
    for (const op of operators) await op.stop();
    if (failed()) for (const op of operators) console.error(`--- ${op.id} log tail\n${op.logTail(60)}`);
    await cp?.stop({ failed: failed() });
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("refuses invalid specs with the CRD's CEL messages", async () => {
    const bad = (name: string, spec: string) =>
      `apiVersion: chatcluster.io/v1alpha1\nkind: ChatCluster\nmetadata: {name: ${name}}\nspec:\n${spec}`;
    await assert.rejects(
      applyYaml(
        "sqlite.yaml",
        bad(
          "lite",
          "  logic: {replicas: 2}\n  store: {sqlite: {size: 1Gi}}\n  auth: {jwt: {secretKeyRef: {name: chat-auth}}}\n",
        ),
      ),
      /store\.sqlite keeps its database on one PersistentVolumeClaim and allows only logic\.replicas: 1/,
    );
    await assert.rejects(
      applyYaml(
        "both.yaml",
        bad(
          "both",
          "  logic: {replicas: 1}\n  store: {sqlite: {}, nats: {url: 'nats://n:4222'}}\n  auth: {jwt: {secretKeyRef: {name: chat-auth}}}\n",
        ),
      ),
      /set exactly one of store\.nats or store\.sqlite/,
    );
    await assert.rejects(
      applyYaml(
        "ports.yaml",
        bad(
          "ports",
          "  gateway: {ports: {client: 9090}}\n  store: {nats: {url: 'nats://n:4222'}}\n  auth: {jwt: {secretKeyRef: {name: chat-auth}}}\n",
        ),
      ),
      /must be three different ports/,
    );
    await assert.rejects(
      applyYaml("noauth.yaml", bad("noauth", "  store: {nats: {url: 'nats://n:4222'}}\n")),
      /auth: Required value/,
    );
    await assert.rejects(
      applyYaml(
        "r2.yaml",
        bad(
          "r2",
          "  store: {nats: {url: 'nats://n:4222', stream: {replicas: 2}}}\n  auth: {jwt: {secretKeyRef: {name: chat-auth}}}\n",
        ),
      ),
      /stream\.replicas: Unsupported value: 2: supported values: "1", "3", "5"/,
    );
  });

  it("creates every child with a controller owner reference and the right spec", async () => {
    await kubectl("apply", "-n", NS, "-f", EXAMPLE);
    const cc = await get("chatcluster", "demo");
    const children: [string, string][] = [
      ["configmap", "demo-gateway-config"],
      ["configmap", "demo-logic-config"],
      ["secret", "demo-internal-token"],
      ["secret", "demo-internal-ca"],
      ["secret", "demo-gateway-tls"],
      ["secret", "demo-logic-tls"],
      ["secret", "demo-principal-key"],
      ["serviceaccount", "demo-logic"],
      ["role", "demo-logic-endpointslices"],
      ["rolebinding", "demo-logic-endpointslices"],
      ["service", "demo-gateway-internal"],
      ["service", "demo-gateway"],
      ["service", "demo-logic"],
      ["statefulset", "demo-gateway"],
      ["deployment", "demo-logic"],
      ["poddisruptionbudget", "demo-gateway"],
      ["poddisruptionbudget", "demo-logic"],
    ];
    for (const [kind, name] of children) {
      const o = await eventually(`${kind}/${name}`, () => tryGet(kind, name));
      const ref = o.metadata.ownerReferences?.find((r) => r.controller === true);
      assert.equal(ref?.kind, "ChatCluster", `${kind}/${name} owner`);
      assert.equal(ref?.uid, cc.metadata.uid, `${kind}/${name} owner uid`);
      assert.equal(ref?.blockOwnerDeletion, true);
    }
    const sts = await get("statefulset", "demo-gateway");
    assert.equal(sts.spec.replicas, 2);
    assert.equal(sts.spec.podManagementPolicy, "Parallel");
    assert.deepEqual(sts.spec.updateStrategy, { type: "OnDelete" });
    assert.equal(sts.spec.serviceName, "demo-gateway-internal");
    assert.equal(sts.spec.template.spec.containers[0].image, "ghcr.io/chatcluster/chatcluster:0.1.0");
    assert.equal(sts.spec.template.spec.terminationGracePeriodSeconds, 5 + 30 + 10 + 5);
    const dep = await get("deployment", "demo-logic");
    assert.deepEqual(dep.spec.strategy.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 });
    assert.deepEqual(dep.spec.template.spec.containers[0].args, [
      "logic",
      "--discovery=kubernetes",
      "--discovery-service=demo-gateway-internal",
      "--internal-tls",
      "--internal-tls-cert=/etc/chatcluster/internal-tls/tls.crt",
      "--internal-tls-key=/etc/chatcluster/internal-tls/tls.key",
      "--internal-tls-ca=/etc/chatcluster/internal-tls/ca.crt",
      `--internal-tls-server-name=gateway.${NS}.demo.chatcluster.internal`,
    ]);
    const headless = await get("service", "demo-gateway-internal");
    assert.equal(headless.spec.clusterIP, "None");
    assert.equal(headless.spec.publishNotReadyAddresses, true);
    const role = await get("role", "demo-logic-endpointslices");
    assert.deepEqual((role as unknown as { rules: unknown }).rules, [
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
    ]);
  });

  it("reports Ready with replica counts once kwok makes the pods Ready", async () => {
    const status = await eventually(
      "status Ready=True with 2 gateways and 2 logic pods",
      async () => {
        const s = (await get("chatcluster", "demo")).status;
        const ready = s?.conditions?.find((c: { type: string }) => c.type === "Ready");
        return ready?.status === "True" && s.gateway.readyReplicas === 2 && s.logic.readyReplicas === 2
          ? s
          : undefined;
      },
      120_000,
    );
    assert.equal(status.observedGeneration, 1);
    assert.equal(
      status.gateway.selector,
      "app.kubernetes.io/name=chatcluster,app.kubernetes.io/instance=demo,app.kubernetes.io/component=gateway",
    );
    // Logic discovers gateways through the headless Service's EndpointSlices: they list the ready gateways.
    const slices = JSON.parse(
      await kubectl(
        "get",
        "endpointslices",
        "-n",
        NS,
        "-l",
        "kubernetes.io/service-name=demo-gateway-internal",
        "-o",
        "json",
      ),
    ) as { items: { endpoints?: unknown[] }[] };
    assert.equal(slices.items.flatMap((s) => s.endpoints ?? []).length, 2);
    const table = await kubectl("get", "chat", "demo", "-n", NS);
    assert.match(table, /READY\s+GATEWAYS\s+LOGIC\s+AGE/);
    assert.match(table, /demo\s+True\s+2\/2\s+2\/2/);
  });

  it("follows kubectl scale and spec edits through the scale subresource", async () => {
    await kubectl("scale", "chatcluster/demo", "-n", NS, "--replicas=3");
    await eventually("StatefulSet at 3 replicas", async () =>
      (await get("statefulset", "demo-gateway")).spec.replicas === 3 ? true : undefined,
    );
    const scale = JSON.parse(
      await kubectl("get", "chatcluster/demo", "-n", NS, "--subresource=scale", "-o", "json"),
    ) as {
      spec: { replicas: number };
    };
    assert.equal(scale.spec.replicas, 3);
    await kubectl(
      "patch",
      "chatcluster/demo",
      "-n",
      NS,
      "--type=merge",
      "-p",
      '{"spec":{"gateway":{"replicas":1}}}',
    );
    await eventually("StatefulSet at 1 replica", async () =>
      (await get("statefulset", "demo-gateway")).spec.replicas === 1 ? true : undefined,
    );
    await eventually(
      "status with 1 ready gateway",
      async () => {
        const s = (await get("chatcluster", "demo")).status;
        return s?.gateway?.replicas === 1 && s.gateway.readyReplicas === 1 ? true : undefined;
      },
      120_000,
    );
    const events = await kubectl("get", "events", "-n", NS, "--field-selector", "involvedObject.name=demo");
    assert.match(events, /ScalingGateways/);
  });

  it("lets a HorizontalPodAutoscaler drive the gateways through the scale subresource", async () => {
    // Replicas are 1 here; an HPA with minReplicas 2 raises them through /scale even without metrics.
    await applyYaml(
      "hpa.yaml",
      [
        "apiVersion: autoscaling/v2",
        "kind: HorizontalPodAutoscaler",
        "metadata: {name: demo-gateway}",
        "spec:",
        "  scaleTargetRef: {apiVersion: chatcluster.io/v1alpha1, kind: ChatCluster, name: demo}",
        "  minReplicas: 2",
        "  maxReplicas: 4",
        "  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}}]",
        "",
      ].join("\n"),
    );
    await eventually(
      "the HPA scaled the ChatCluster to 2 and the StatefulSet followed",
      async () => {
        const cc = await get("chatcluster", "demo");
        const sts = await get("statefulset", "demo-gateway");
        return cc.spec.gateway.replicas === 2 && sts.spec.replicas === 2 ? true : undefined;
      },
      120_000,
    );
    const hpa = await get("hpa", "demo-gateway");
    const able = hpa.status.conditions?.find((c: { type: string }) => c.type === "AbleToScale");
    assert.equal(able?.status, "True", JSON.stringify(hpa.status.conditions));
    await kubectl("delete", "hpa", "demo-gateway", "-n", NS);
  });

  it("rolls pods when configuration or the image changes, and says so in events", async () => {
    const before = await get("statefulset", "demo-gateway");
    const hashBefore = before.spec.template.metadata.annotations["chatcluster.io/config-hash"];
    await kubectl(
      "patch",
      "chatcluster/demo",
      "-n",
      NS,
      "--type=merge",
      "-p",
      '{"spec":{"gateway":{"maxConnections":5000},"image":{"tag":"0.1.1"}}}',
    );
    const sts = await eventually("gateway template with the new hash and image", async () => {
      const s = await get("statefulset", "demo-gateway");
      const t = s.spec.template;
      return t.metadata.annotations["chatcluster.io/config-hash"] !== hashBefore &&
        t.spec.containers[0].image.endsWith(":0.1.1")
        ? s
        : undefined;
    });
    assert.ok(sts);
    await eventually("logic runs the new image", async () =>
      (await get("deployment", "demo-logic")).spec.template.spec.containers[0].image.endsWith(":0.1.1")
        ? true
        : undefined,
    );
    const cm = await get("configmap", "demo-gateway-config");
    assert.equal(
      (cm as unknown as { data: Record<string, string> }).data.CHATCLUSTER_MAX_CONNECTIONS,
      "5000",
    );
    await eventually("rollout events", async () => {
      const ev = await kubectl("get", "events", "-n", NS, "--field-selector", "involvedObject.name=demo");
      return /RollingOutGateways/.test(ev) && /RollingOutLogic/.test(ev) ? true : undefined;
    });
  });

  it("recreates a deleted child and reverts an edit to a field it owns", async () => {
    const before = await get("service", "demo-gateway-internal");
    await kubectl("delete", "service", "demo-gateway-internal", "-n", NS);
    const again = await eventually("headless Service recreated", async () => {
      const s = await tryGet("service", "demo-gateway-internal");
      return s !== undefined && s.metadata.uid !== before.metadata.uid ? s : undefined;
    });
    assert.equal(again.spec.clusterIP, "None");
    await kubectl("delete", "configmap", "demo-logic-config", "-n", NS);
    await eventually("logic ConfigMap recreated", () => tryGet("configmap", "demo-logic-config"));

    await kubectl(
      "patch",
      "statefulset",
      "demo-gateway",
      "-n",
      NS,
      "--type=merge",
      "-p",
      '{"spec":{"template":{"spec":{"terminationGracePeriodSeconds":300}}}}',
    );
    await eventually("terminationGracePeriodSeconds reverted to 50", async () =>
      (await get("statefulset", "demo-gateway")).spec.template.spec.terminationGracePeriodSeconds === 50
        ? true
        : undefined,
    );
  });

  it("gives a SQLite ChatCluster its volume claim and a Recreate Deployment", async () => {
    await applyYaml(
      "lite.yaml",
      "apiVersion: chatcluster.io/v1alpha1\nkind: ChatCluster\nmetadata: {name: lite}\nspec:\n" +
        "  logic: {replicas: 1}\n  store: {sqlite: {size: 2Gi}}\n  auth: {jwt: {secretKeyRef: {name: chat-auth}}}\n",
    );
    const pvc = await eventually("PVC lite-logic-data", () =>
      tryGet("persistentvolumeclaim", "lite-logic-data"),
    );
    assert.equal(pvc.spec.resources.requests.storage, "2Gi");
    // Retained by default: no owner reference, so the database outlives the ChatCluster (see operator-status tests).
    assert.equal(pvc.metadata.ownerReferences, undefined);
    assert.equal(pvc.metadata.labels?.["app.kubernetes.io/instance"], "lite");
    const dep = await eventually("Deployment lite-logic", () => tryGet("deployment", "lite-logic"));
    assert.equal(dep.spec.strategy.type, "Recreate");
    assert.ok(
      dep.spec.template.spec.volumes.some(
        (v: { persistentVolumeClaim?: { claimName: string } }) =>
          v.persistentVolumeClaim?.claimName === "lite-logic-data",
      ),
    );
  });

  it("runs one leader of two and fails over within seconds when the leader stops", async () => {
    const a = operators[0]!;
    const b = await spawnOperator(cp.kubeconfigPath, "op-b", cp.logsDir, LEASE_FLAGS);
    operators.push(b);
    assert.equal(await leaseHolder(), "op-a");
    assert.equal(await a.metric("chatcluster_operator_leader"), 1);
    assert.equal(await b.metric("chatcluster_operator_leader"), 0);
    const reconcilesB = await b.metric('chatcluster_operator_reconcile_total{result="success"}');

    const t0 = Date.now();
    assert.equal(await a.stop(), 0, "SIGTERM exits cleanly");
    await eventually(
      "op-b holds the Lease",
      async () => ((await leaseHolder()) === "op-b" ? true : undefined),
      20_000,
    );
    await eventually("op-b reports leader=1", async () =>
      (await b.metric("chatcluster_operator_leader")) === 1 ? true : undefined,
    );
    const takeoverMs = Date.now() - t0;
    console.log(`failover after SIGTERM: ${takeoverMs} ms`);
    // The released Lease is taken at op-b's next retry (500ms), far inside the 6s lease duration.
    assert.ok(takeoverMs < 6_000, `takeover took ${takeoverMs} ms`);

    // The new leader reconciles: a deleted child comes back.
    await kubectl("delete", "poddisruptionbudget", "demo-gateway", "-n", NS);
    await eventually("PDB recreated by op-b", () => tryGet("poddisruptionbudget", "demo-gateway"));
    const after = await b.metric('chatcluster_operator_reconcile_total{result="success"}');
    const requeues = await b.metric('chatcluster_operator_reconcile_total{result="requeue"}');
    assert.ok((after ?? 0) + (requeues ?? 0) > (reconcilesB ?? 0), "op-b ran reconciles after taking over");
  });

  it("leaves deletion to the garbage collector through owner references", async () => {
    await kubectl("delete", "chatcluster", "demo", "-n", NS, "--wait=true");
    for (const [kind, name] of [
      ["statefulset", "demo-gateway"],
      ["deployment", "demo-logic"],
      ["service", "demo-gateway-internal"],
      ["secret", "demo-internal-token"],
      ["secret", "demo-internal-ca"],
      ["secret", "demo-gateway-tls"],
      ["secret", "demo-logic-tls"],
      ["secret", "demo-principal-key"],
    ] as const) {
      await eventually(`${kind}/${name} deleted`, async () =>
        (await tryGet(kind, name)) === undefined ? true : undefined,
      );
    }
  });
});
