/**
 * Failure modes against a real control plane: informers that die on an error
 * (here: 403 until RBAC is granted) restart with backoff and recover, and a
 * leader that crashes without releasing its Lease is replaced once the Lease
 * expires, a paused leader steps down, and the optional ServiceMonitor API is
 * noticed within seconds of its CRD (a watch on the CRD by name, which the
 * example RBAC grants by resourceNames). The operator runs with exactly
 * docs/examples/operator-rbac.yaml.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { crdsEstablished } from "../../testenv/harness/crds-established.ts";
import {
  type ControlPlane,
  needsReal,
  startControlPlane,
  trackFailures,
} from "../../testenv/harness/index.ts";
import { eventually, type OperatorProcess, spawnOperator } from "./testing/operator-process.ts";

// `make test-unit` opts out explicitly; otherwise a missing testenv fails with "run `make testenv`".
const CRD = new URL("../../crds/chatclusters.chatcluster.io.yaml", import.meta.url).pathname;
const RBAC = new URL("../../docs/examples/operator-rbac.yaml", import.meta.url).pathname;
const NS = "recovery";

describe("operator recovery", {
  timeout: 600_000,
  skip: needsReal("a control plane (make testenv)"),
}, () => {
  const failed = trackFailures();
  let cp: ControlPlane;
  let dir: string;
  let tokenKubeconfig: string;
  const operators: OperatorProcess[] = [];
  const kubectl = (...args: string[]) => cp.kubectl(args);
  const exists = async (kind: string, name: string): Promise<true | undefined> => {
    const out = await kubectl("get", kind, "-n", NS, "--ignore-not-found", "-o", "name");
    return out.includes(`/${name}`) ? true : undefined;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "chatcluster-operator-recovery-"));
    cp = await startControlPlane({ name: "operator-recovery" });
    await kubectl("apply", "-f", CRD);
    await crdsEstablished((a) => cp.kubectl(a), ["chatclusters.chatcluster.io"]);
    await kubectl("create", "namespace", NS);
    await kubectl("create", "serviceaccount", "chatcluster-operator", "-n", "default");
    const token = (
      await kubectl("create", "token", "chatcluster-operator", "-n", "default", "--duration=1h")
    ).trim();
    // The admin kubeconfig is JSON; swap the client certificate for the service account's token.
    const admin = JSON.parse(readFileSync(cp.kubeconfigPath, "utf8")) as { users: { user: unknown }[] };
    admin.users[0]!.user = { token };
    tokenKubeconfig = join(dir, "operator-sa.kubeconfig");
    writeFileSync(tokenKubeconfig, JSON.stringify(admin));
  });

  after(async () => {
    for (const op of operators) await op.stop();
    if (failed()) for (const op of operators) console.error(`--- ${op.id} log tail\n${op.logTail(60)}`);
    await cp?.stop({ failed: failed() });
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("restarts informers that failed with 403 and reconciles once RBAC is granted", async () => {
    const op = await spawnOperator(tokenKubeconfig, "op-rbac", cp.logsDir, [
      `--watch-namespace=${NS}`,
      "--leader-elect=false",
    ]);
    operators.push(op);
    const readyz = async () => (await fetch(`http://127.0.0.1:${op.opsPort}/readyz`)).status;
    assert.equal(await readyz(), 503, "not ready while no cache could list");
    const cc = join(dir, "cc.yaml");
    writeFileSync(
      cc,
      "apiVersion: chatcluster.io/v1alpha1\nkind: ChatCluster\nmetadata: {name: r}\nspec:\n  store: {nats: {url: 'nats://n:4222'}}\n  auth: {jwt: {secretKeyRef: {name: chat-auth}}}\n",
    );
    await kubectl("apply", "-n", NS, "-f", cc);
    await eventually("an informer restart after the 403", async () => {
      const n = await op.metric('chatcluster_operator_informer_restarts_total{kind="ChatCluster"}');
      return (n ?? 0) >= 1 ? n : undefined;
    });
    assert.equal(
      await exists("statefulset", "r-gateway"),
      undefined,
      "nothing is created without permissions",
    );

    await kubectl("apply", "-f", RBAC);
    await eventually(
      "StatefulSet created after RBAC is granted",
      () => exists("statefulset", "r-gateway"),
      90_000,
    );
    await eventually(
      "ready once every cache listed",
      async () => ((await readyz()) === 200 ? true : undefined),
      90_000,
    );
    for (const [kind, name] of [
      ["deployment", "r-logic"],
      ["role", "r-logic-endpointslices"],
      ["rolebinding", "r-logic-endpointslices"],
      ["secret", "r-internal-token"],
    ] as const) {
      await eventually(`${kind}/${name}`, () => exists(kind, name));
    }
    const status = await eventually("status written through chatclusters/status", async () => {
      const s = await kubectl(
        "get",
        "chatcluster",
        "r",
        "-n",
        NS,
        "-o",
        "jsonpath={.status.observedGeneration}",
      );
      return s.trim() === "1" ? s : undefined;
    });
    assert.equal(status.trim(), "1");
    await op.stop();
  });

  it("replaces a crashed leader once its Lease expires", async () => {
    const flags = [
      "--lease-duration=4s",
      "--renew-deadline=3s",
      "--retry-period=500ms",
      `--watch-namespace=${NS}`,
    ];
    const a = await spawnOperator(tokenKubeconfig, "op-crash-a", cp.logsDir, flags);
    operators.push(a);
    await eventually("op-crash-a leads", async () =>
      (await a.metric("chatcluster_operator_leader")) === 1 ? true : undefined,
    );
    const b = await spawnOperator(tokenKubeconfig, "op-crash-b", cp.logsDir, flags);
    operators.push(b);
    assert.equal(await b.metric("chatcluster_operator_leader"), 0);
    // SIGKILL: no release, the standby must wait out the 4s lease.
    const t0 = Date.now();
    process.kill(a.pid, "SIGKILL");
    await a.exited;
    await eventually(
      "op-crash-b leads",
      async () => ((await b.metric("chatcluster_operator_leader")) === 1 ? true : undefined),
      30_000,
    );
    const ms = Date.now() - t0;
    console.log(`failover after SIGKILL: ${ms} ms (lease duration 4000 ms)`);
    assert.ok(ms >= 3_000, `took over after ${ms} ms, before the lease could have expired`);
    const holder = await kubectl(
      "get",
      "lease",
      "chatcluster-operator",
      "-n",
      "default",
      "-o",
      "jsonpath={.spec.holderIdentity}",
    );
    assert.equal(holder.trim(), "op-crash-b");
    assert.equal(await b.stop(), 0);
  });
  it("makes a paused leader step down and exit once it finds the Lease taken", async () => {
    const flags = [
      "--lease-duration=4s",
      "--renew-deadline=3s",
      "--retry-period=500ms",
      `--watch-namespace=${NS}`,
    ];
    const a = await spawnOperator(tokenKubeconfig, "op-pause-a", cp.logsDir, flags);
    operators.push(a);
    const b = await spawnOperator(tokenKubeconfig, "op-pause-b", cp.logsDir, flags);
    operators.push(b);
    const leader = await eventually("a leader", async () => {
      if ((await a.metric("chatcluster_operator_leader")) === 1) return a;
      if ((await b.metric("chatcluster_operator_leader")) === 1) return b;
      return undefined;
    });
    const standby = leader === a ? b : a;
    // SIGSTOP: the leader cannot renew, yet still believes it leads (a GC pause, a frozen node).
    process.kill(leader.pid, "SIGSTOP");
    try {
      await eventually(
        "the standby takes over",
        async () => ((await standby.metric("chatcluster_operator_leader")) === 1 ? true : undefined),
        30_000,
      );
    } finally {
      process.kill(leader.pid, "SIGCONT");
    }
    // Woken up, it finds another holder past its renew deadline: it must stop acting and exit non-zero.
    const code = await Promise.race([
      leader.exited,
      new Promise<string>((resolve) => setTimeout(() => resolve("still running"), 30_000)),
    ]);
    assert.equal(code, 1, `old leader: ${code}\n${leader.logTail(10)}`);
    assert.match(leader.logTail(20), /lost leadership/);
    const holder = await kubectl(
      "get",
      "lease",
      "chatcluster-operator",
      "-n",
      "default",
      "-o",
      "jsonpath={.spec.holderIdentity}",
    );
    assert.equal(holder.trim(), standby.id);
  });
  it("says the ServiceMonitor API is missing, creates the ServiceMonitor within seconds of its CRD, and deletes it when disabled", async () => {
    // Only the API registration of the Prometheus Operator's CRD matters here (discovery + storage).
    const crd = join(dir, "servicemonitor-crd.yaml");
    writeFileSync(
      crd,
      [
        "apiVersion: apiextensions.k8s.io/v1",
        "kind: CustomResourceDefinition",
        "metadata: {name: servicemonitors.monitoring.coreos.com}",
        "spec:",
        "  group: monitoring.coreos.com",
        "  scope: Namespaced",
        "  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}",
        "  versions:",
        "    - name: v1",
        "      served: true",
        "      storage: true",
        "      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}",
        "",
      ].join("\n"),
    );
    // Periodic discovery an hour apart: only the watch on the CRD can notice it in time.
    const op = await spawnOperator(tokenKubeconfig, "op-sm", cp.logsDir, [
      `--watch-namespace=${NS}`,
      "--leader-elect=false",
      "--discovery-interval=1h",
    ]);
    operators.push(op);
    const cc = join(dir, "mon.yaml");
    writeFileSync(
      cc,
      "apiVersion: chatcluster.io/v1alpha1\nkind: ChatCluster\nmetadata: {name: mon}\nspec:\n" +
        "  store: {nats: {url: 'nats://n:4222'}}\n  auth: {jwt: {secretKeyRef: {name: chat-auth}}}\n" +
        "  metrics: {serviceMonitor: {enabled: true, labels: {release: prom}}}\n",
    );
    await kubectl("apply", "-n", NS, "-f", cc);
    const monitoring = async () => {
      const out = await kubectl(
        "get",
        "chatcluster",
        "mon",
        "-n",
        NS,
        "-o",
        'jsonpath={.status.conditions[?(@.type=="MonitoringReady")].status} {.status.conditions[?(@.type=="MonitoringReady")].reason}',
      );
      return out.trim();
    };
    await eventually("MonitoringReady=False ServiceMonitorAPIMissing", async () =>
      (await monitoring()) === "False ServiceMonitorAPIMissing" ? true : undefined,
    );
    const warning = await eventually("a Warning event ServiceMonitorAPIMissing", async () => {
      const out = await kubectl(
        "get",
        "events",
        "-n",
        NS,
        "--field-selector",
        "involvedObject.name=mon,reason=ServiceMonitorAPIMissing,type=Warning",
        "-o",
        "jsonpath={.items[*].message}",
      );
      return out.trim() === "" ? undefined : out;
    });
    assert.match(warning, /does not serve monitoring\.coreos\.com\/v1 ServiceMonitor/);

    // Registered after the operator started: the CRD watch finds it, no restart, no waiting an hour.
    await kubectl("apply", "-f", crd);
    await crdsEstablished((a) => cp.kubectl(a), ["servicemonitors.monitoring.coreos.com"]);
    await eventually("ServiceMonitor mon", () => exists("servicemonitor", "mon"), 30_000);
    await eventually("MonitoringReady=True", async () =>
      (await monitoring()) === "True ServiceMonitorCreated" ? true : undefined,
    );
    const sm = JSON.parse(await kubectl("get", "servicemonitor", "mon", "-n", NS, "-o", "json")) as {
      metadata: { labels: Record<string, string>; ownerReferences: { name: string; controller: boolean }[] };
      spec: { endpoints: { port: string }[]; selector: { matchLabels: Record<string, string> } };
    };
    assert.equal(sm.metadata.labels.release, "prom");
    assert.equal(sm.metadata.ownerReferences[0]?.name, "mon");
    assert.equal(sm.spec.endpoints[0]?.port, "metrics");
    assert.equal(sm.spec.selector.matchLabels["chatcluster.io/metrics"], "true");
    await kubectl(
      "patch",
      "chatcluster",
      "mon",
      "-n",
      NS,
      "--type=merge",
      "-p",
      '{"spec":{"metrics":{"serviceMonitor":{"enabled":false}}}}',
    );
    await eventually("ServiceMonitor mon deleted", async () =>
      (await exists("servicemonitor", "mon")) === undefined ? true : undefined,
    );
    await eventually("no MonitoringReady condition once not asked for", async () =>
      (await monitoring()) === "" ? true : undefined,
    );
    assert.equal(await op.stop(), 0);
  });
});
