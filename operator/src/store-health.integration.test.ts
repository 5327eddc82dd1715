/**
 * StoreDegraded on a real control plane with real nats-servers: the operator
 * asks the JetStream API of each NATS-backed ChatCluster for its streams'
 * replica health, off the reconcile path, on one connection per ChatCluster.
 * A single server at replicas 1 is healthy once the streams exist; a 3-node
 * cluster at replicas 3 with a node killed is ReplicaOffline, and healthy
 * again once the node is back and current.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { storeStreamNames } from "../../platform/store-streams.ts";
import {
  type ControlPlane,
  type NatsCluster,
  type NatsNode,
  type NatsServer,
  needsReal,
  startControlPlane,
  startNats,
  startNatsCluster,
  trackFailures,
} from "../../testenv/harness/index.ts";
import { clusterHelpers } from "./testing/cluster-helpers.ts";
import { ConditionWatch } from "./testing/condition-watch.ts";
import { eventually, type OperatorProcess, spawnOperator } from "./testing/operator-process.ts";

const NS = "storehealth";
/** Generous: the machine runs other suites; a check runs every 2 s here. */
const WAIT_MS = 120_000;
const PROBE_CONNECTION = "chatcluster-operator-store-health";

function manifest(name: string, url: string, stream: string, replicas: number): string {
  return [
    "apiVersion: chatcluster.io/v1alpha1",
    "kind: ChatCluster",
    `metadata: {name: ${name}}`,
    "spec:",
    "  auth: {jwt: {secretKeyRef: {name: chat-auth}}}",
    `  store: {nats: {url: '${url}', stream: {name: ${stream}, replicas: ${replicas}}}}`,
    "",
  ].join("\n");
}

/** The streams logic would create (messages and presence; read markers are created on first use). */
async function createStreams(servers: readonly string[], stream: string, replicas: number): Promise<void> {
  const nc = await connect({ servers: [...servers], timeout: 5000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    const names = storeStreamNames(stream);
    const prefix = stream.toLowerCase();
    await jsm.streams.add({ name: names.messages, subjects: [`${prefix}.msg.>`], num_replicas: replicas });
    await jsm.streams.add({ name: names.presence, subjects: [`${prefix}.pres.>`], num_replicas: replicas });
  } finally {
    await nc.close();
  }
}

/** The operator's probe connections a server sees (its /connz). */
async function probeConnections(monitorUrl: string): Promise<number> {
  const res = await fetch(`${monitorUrl}/connz?limit=1024`);
  const body = (await res.json()) as { connections?: { name?: string }[] };
  return (body.connections ?? []).filter((c) => c.name === PROBE_CONNECTION).length;
}

describe("StoreDegraded from the JetStream API on a real control plane", {
  timeout: 900_000,
  skip: needsReal("a control plane and nats-server (make testenv)"),
}, () => {
  const failed = trackFailures();
  let cp: ControlPlane;
  let dir: string;
  let op: OperatorProcess;
  let nats: NatsServer;
  let cluster: NatsCluster;
  const watch = new ConditionWatch();
  const { kubectl, applyYaml, installCrd, applySecret } = clusterHelpers(
    () => (args) => cp.kubectl(args),
    NS,
    () => dir,
  );
  const storeMetric = (name: string) =>
    op.metric(`chatcluster_operator_store_degraded{namespace="${NS}",chatcluster="${name}"}`);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "chatcluster-store-health-"));
    [cp, nats, cluster] = await Promise.all([
      startControlPlane({ kwok: true, name: "operator-store-health" }),
      startNats({ name: "operator-store-health-single" }),
      startNatsCluster({ name: "operator-store-health" }),
    ]);
    await installCrd();
    await kubectl("create", "namespace", NS);
    await applySecret("chat-auth", { secret: "0123456789abcdef0123456789abcdef" });
    await watch.start(cp.kubeConfig, NS);
    op = await spawnOperator(cp.kubeconfigPath, "op-store-health", cp.logsDir, [
      "--leader-elect=false",
      "--store-health-interval=2s",
    ]);
  });

  after(async () => {
    watch.stop();
    await op?.stop();
    if (failed()) console.error(`--- operator log tail\n${op?.logTail(80)}`);
    for (const n of cluster?.nodes ?? []) if (n.paused) n.resume();
    await Promise.all([
      cp?.stop({ failed: failed() }),
      nats?.stop({ failed: failed() }),
      cluster?.stop({ failed: failed() }),
    ]);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("a single server: StreamMissing until logic's streams exist, then False/Healthy at replicas 1", async () => {
    await applyYaml("single.yaml", manifest("single", nats.url, "SINGLE", 1));
    const missing = await watch.until(
      "single",
      "StoreDegraded",
      (c) => c.reason === "StreamMissing",
      WAIT_MS,
    );
    assert.equal(missing.status, "True");
    assert.match(missing.message, /SINGLE: stream not found/);
    await createStreams([nats.url], "SINGLE", 1);
    const healthy = await watch.until("single", "StoreDegraded", (c) => c.status === "False", WAIT_MS);
    assert.equal(healthy.reason, "Healthy");
    assert.match(healthy.message, /SINGLE: 1\/1/);
    await eventually("the metric says healthy", async () =>
      (await storeMetric("single")) === 0 ? true : undefined,
    );
    // One connection for this ChatCluster however often it reconciles.
    assert.equal(await probeConnections(nats.monitorUrl), 1);
  });

  it("a 3-node cluster at replicas 3: True/ReplicaOffline while a node is killed, False once it is back", async () => {
    await createStreams(cluster.urls, "TRIPLE", 3);
    await cluster.waitStreamCurrent("TRIPLE", WAIT_MS);
    await cluster.waitStreamCurrent("TRIPLE_PRESENCE", WAIT_MS);
    await applyYaml("triple.yaml", manifest("triple", cluster.urls.join(","), "TRIPLE", 3));
    const healthy = await watch.until("triple", "StoreDegraded", (c) => c.status === "False", WAIT_MS);
    assert.equal(healthy.reason, "Healthy");
    assert.match(healthy.message, /TRIPLE: 3\/3, TRIPLE_PRESENCE: 3\/3/);

    // A follower of the message stream: the stream keeps its leader, so the reason is the replica.
    const leader = await cluster.streamLeader("TRIPLE");
    const victim = cluster.nodes.find((n) => n !== leader) as NatsNode;
    victim.kill("SIGKILL");
    const offline = await watch.until(
      "triple",
      "StoreDegraded",
      (c) => c.reason === "ReplicaOffline" && c.message.includes(victim.serverName),
      WAIT_MS,
    );
    assert.equal(offline.status, "True");
    assert.match(offline.message, new RegExp(`TRIPLE: replica ${victim.serverName} offline`));
    await eventually("the metric says degraded", async () =>
      (await storeMetric("triple")) === 1 ? true : undefined,
    );

    await victim.start();
    const back = await watch.until("triple", "StoreDegraded", (c) => c.status === "False", WAIT_MS);
    assert.equal(back.reason, "Healthy");
    assert.notEqual(back.lastTransitionTime, "");
    await eventually("the metric says healthy again", async () =>
      (await storeMetric("triple")) === 0 ? true : undefined,
    );
  });

  it("closes a ChatCluster's connection and its series when the ChatCluster goes", async () => {
    await kubectl("delete", "chatcluster", "single", "-n", NS, "--wait=true");
    await eventually(
      "the probe connection closed",
      async () => ((await probeConnections(nats.monitorUrl)) === 0 ? true : undefined),
      WAIT_MS,
    );
    await eventually(
      "the series removed",
      async () => ((await storeMetric("single")) === undefined ? true : undefined),
      WAIT_MS,
    );
  });
});
