// A real kube-apiserver restart (same port, certificates and etcd; the
// process is killed and started again from its own command line) under
// logic's EndpointSlice discovery and the operator: state is kept while the
// API is down, and changes made after the restart are seen and reconciled.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DiscoveryV1Api, type V1EndpointSlice } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { createDiscoveryMetrics } from "../logic/src/discovery/discovery-metrics.ts";
import { EndpointSliceDiscovery } from "../logic/src/discovery/endpoint-slice-discovery.ts";
import { eventually, type OperatorProcess, spawnOperator } from "../operator/src/testing/operator-process.ts";
import { createLogger } from "../platform/logger.ts";
import { crdsEstablished } from "../testenv/harness/crds-established.ts";
import { type ControlPlane, needsReal, startControlPlane, trackFailures } from "../testenv/harness/index.ts";
import { groupAlive } from "../testenv/harness/proc.ts";
import { until } from "./load-driver.ts";
import { recordResult } from "./results.ts";

const NS = "default";
const SERVICE = "chaos-gateway-internal";
const CRD = new URL("../crds/chatclusters.chatcluster.io.yaml", import.meta.url).pathname;
const OP_NS = "chaos";

function chatClusterYaml(name: string): string {
  return `apiVersion: chatcluster.io/v1alpha1\nkind: ChatCluster\nmetadata: {name: ${name}, namespace: ${OP_NS}}\nspec:\n  store: {nats: {url: 'nats://n:4222'}}\n  auth: {jwt: {secretKeyRef: {name: chat-auth}}}\n`;
}

function slice(name: string, pod: string, ip: string): V1EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace: NS, labels: { "kubernetes.io/service-name": SERVICE } },
    addressType: "IPv4",
    ports: [{ name: "grpc-internal", port: 9090, protocol: "TCP" }],
    endpoints: [
      {
        addresses: [ip],
        conditions: { ready: true, serving: true },
        targetRef: { kind: "Pod", name: pod, namespace: NS },
      },
    ],
  };
}

describe("kube-apiserver restart", {
  timeout: 240_000,
  skip: needsReal("a control plane (make testenv)"),
}, () => {
  let cp: ControlPlane;
  let restarted: number | undefined;
  let op: OperatorProcess | undefined;
  const failed = trackFailures();

  before(async () => {
    cp = await startControlPlane({ name: "reliability-apiserver" });
    await cp.kubectl(["apply", "-f", CRD]);
    await crdsEstablished((a) => cp.kubectl(a), ["chatclusters.chatcluster.io"]);
    await cp.kubectl(["create", "namespace", OP_NS]);
  });
  after(async () => {
    await op?.stop();
    if (failed() && op) console.error(`--- operator log tail\n${op.logTail(60)}`);
    if (restarted !== undefined && groupAlive(restarted)) {
      process.kill(-restarted, "SIGTERM");
      await until("restarted apiserver stopped", () => !groupAlive(restarted as number), 20_000).catch(() =>
        process.kill(-(restarted as number), "SIGKILL"),
      );
    }
    await cp?.stop({ failed: failed() });
  });

  it("(f) discovery and the operator keep their state while the apiserver is down and follow changes after it is back", async () => {
    const started = Date.now();
    const api = cp.kubeConfig.makeApiClient(DiscoveryV1Api);
    const d = new EndpointSliceDiscovery({
      kubeConfig: cp.kubeConfig,
      namespace: NS,
      serviceName: SERVICE,
      portName: "grpc-internal",
      log: createLogger("test", "silent"),
      metrics: createDiscoveryMetrics(new Registry()),
      baseBackoffMs: 100,
      maxBackoffMs: 1000,
    });
    const ids = () =>
      d
        .endpoints()
        .map((e) => e.id)
        .join(",");
    try {
      await api.createNamespacedEndpointSlice({ namespace: NS, body: slice("gw-a", "gw-0", "10.0.0.1") });
      await d.start();
      await until("gw-0 discovered", () => ids() === "gw-0", 20_000);
      op = await spawnOperator(cp.kubeconfigPath, "chaos-op", cp.logsDir, [
        `--watch-namespace=${OP_NS}`,
        "--leader-elect=false",
      ]);
      const operator = op;
      const reconciled = (name: string) =>
        eventually(
          `StatefulSet ${name}-gateway`,
          async () => {
            const out = await cp.kubectl([
              "get",
              "statefulset",
              "-n",
              OP_NS,
              "--ignore-not-found",
              "-o",
              "name",
            ]);
            return out.includes(`/${name}-gateway`) ? true : undefined;
          },
          90_000,
        );
      const apply = async (name: string) => {
        const file = join(cp.dir, `${name}.yaml`);
        writeFileSync(file, chatClusterYaml(name));
        await cp.kubectl(["apply", "-f", file]);
      };
      await apply("before");
      await reconciled("before");

      // Stop the apiserver and start it again from its own command line.
      const pid = cp.pids["kube-apiserver"];
      assert.ok(pid !== undefined);
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
      const downAt = Date.now();
      // SIGKILL: a graceful stop waits out open watches for a minute; a crash is the harder case anyway.
      process.kill(-pid, "SIGKILL");
      await until("apiserver gone", () => !groupAlive(pid), 30_000);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(ids(), "gw-0", "the set is kept while the apiserver is down");
      const log = openSync(join(cp.logsDir, "kube-apiserver-restarted.log"), "a");
      const child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ["ignore", log, log] });
      restarted = child.pid;
      child.unref();
      for (;;) {
        const ok = await api.listNamespacedEndpointSlice({ namespace: NS }).then(
          () => true,
          () => false,
        );
        if (ok) break;
        if (Date.now() - downAt > 90_000) throw new Error("apiserver did not come back");
        await new Promise((r) => setTimeout(r, 200));
      }
      const downMs = Date.now() - downAt;

      await api.createNamespacedEndpointSlice({ namespace: NS, body: slice("gw-b", "gw-1", "10.0.0.2") });
      await until("gw-1 discovered after the restart", () => ids() === "gw-0,gw-1", 30_000);
      await api.deleteNamespacedEndpointSlice({ name: "gw-a", namespace: NS });
      await until("gw-0 removed after the restart", () => ids() === "gw-1", 30_000);
      const caughtUpMs = Date.now() - downAt - downMs;
      await apply("after");
      await reconciled("after");
      const operatorMs = Date.now() - downAt - downMs;
      const ready = await fetch(`http://127.0.0.1:${operator.opsPort}/readyz`);
      assert.equal(ready.status, 200, "the operator is ready after the restart");
      const restarts = await operator.metric(
        'chatcluster_operator_informer_restarts_total{kind="ChatCluster"}',
      );
      recordResult({
        id: "chaos-f-apiserver-restart",
        kind: "chaos",
        load: "EndpointSlice discovery watching 1 gateway Service; the operator watching 1 namespace",
        fault: "SIGKILL kube-apiserver, start it again with the same flags (same port, certs, etcd)",
        outcome: `discovery kept its set for the ${(downMs / 1000).toFixed(1)} s the API was away and saw a slice added and one deleted ${(caughtUpMs / 1000).toFixed(1)} s after it was back; the operator (informer restarts: ${restarts ?? 0}) reconciled a ChatCluster created after the restart within ${(operatorMs / 1000).toFixed(1)} s and stayed ready`,
        lost: null,
        durationMs: Date.now() - started,
      });
    } finally {
      await d.stop();
    }
  });
});
