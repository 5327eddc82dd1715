// Proves the 3-node NATS cluster of the testenv is real: one R3 stream over
// three servers, its leader found through the JetStream API, a write
// acknowledged by a quorum surviving SIGKILL of that leader, a paused
// follower falling behind and catching up, and a node restart on its own store.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type NatsCluster, needsReal, startNatsCluster, trackFailures } from "./harness/index.ts";

const STREAM = "REPLICATED";

describe("testenv nats cluster", { skip: needsReal("nats-server (make testenv)") }, () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;
  const failed = trackFailures();

  before(async () => {
    cluster = await startNatsCluster({ name: "testenv-nats-cluster" });
    nc = await connect({ servers: [...cluster.urls], maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  });
  after(async () => {
    await nc?.close();
    await cluster?.stop({ failed: failed() });
  });

  test("three routed servers hold one stream at replicas 3", async () => {
    assert.equal(cluster.urls.length, 3);
    assert.equal(new Set(cluster.urls).size, 3);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: STREAM, subjects: ["rep.>"], num_replicas: 3 });
    const info = await cluster.waitStreamCurrent(STREAM);
    assert.equal(info.cluster?.name, cluster.name);
    const members = [info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((r) => r.name)].sort();
    assert.deepEqual(
      members,
      cluster.nodes.map((n) => n.serverName),
    );
    for (const n of cluster.nodes) {
      const jsz = (await (await fetch(`${n.monitorUrl}/jsz`)).json()) as {
        meta_cluster?: { cluster_size?: number };
      };
      assert.equal(jsz.meta_cluster?.cluster_size, 3, `${n.serverName} sees the whole meta group`);
    }
  });

  test("SIGKILL of the stream leader: another node leads, acknowledged writes survive", async () => {
    const js = jetstream(nc);
    for (let i = 0; i < 20; i++) await js.publish("rep.a", String(i), { msgID: `a${i}` });
    const leader = await cluster.streamLeader(STREAM);
    leader.kill("SIGKILL");
    const next = await waitForNewLeader(cluster, leader.serverName);
    assert.notEqual(next.serverName, leader.serverName);
    assert.equal(leader.running, false);
    // Writes go on with a quorum of two; a resend of an acked id is still a duplicate.
    const dup = await retry(() => js.publish("rep.a", "again", { msgID: "a7" }));
    assert.equal(dup.duplicate, true);
    await retry(() => js.publish("rep.a", "20", { msgID: "a20" }));
    await leader.start();
    const info = await cluster.waitStreamCurrent(STREAM);
    assert.equal(info.state.messages, 21);
  });

  test("a paused follower falls behind, catches up after SIGCONT", async () => {
    const leader = await cluster.streamLeader(STREAM);
    // Not the node this test's own connection is on: its requests would wait out the pause.
    const follower = cluster.nodes.find(
      (n) => n !== leader && n.serverName !== nc.info?.server_name,
    ) as (typeof cluster.nodes)[number];
    follower.pause();
    try {
      const js = jetstream(nc);
      for (let i = 0; i < 10; i++) await retry(() => js.publish("rep.b", String(i), { msgID: `b${i}` }));
      const info = await cluster.streamInfo(STREAM);
      const peer = info.cluster?.replicas?.find((r) => r.name === follower.serverName);
      assert.ok(peer !== undefined, "the paused node is still a replica");
      assert.ok(!peer.current || (peer.lag ?? 0) > 0 || peer.offline === true, JSON.stringify(peer));
    } finally {
      follower.resume();
    }
    const info = await cluster.waitStreamCurrent(STREAM);
    assert.equal(info.state.messages, 31);
  });

  test("restart() brings a node back on its port with its store", async () => {
    const node = cluster.nodes[2] as (typeof cluster.nodes)[number];
    const port = node.port;
    await node.restart();
    assert.equal(node.port, port);
    assert.equal(node.running, true);
    const single = await connect({ servers: node.url });
    try {
      const info = await (await jetstreamManager(single)).streams.info(STREAM);
      assert.equal(info.state.messages, 31);
    } finally {
      await single.close();
    }
  });
});

async function waitForNewLeader(cluster: NatsCluster, old: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const n = await cluster.streamLeader(STREAM).catch(() => undefined);
    if (n !== undefined && n.serverName !== old) return n;
    if (Date.now() > deadline) throw new Error(`no leader other than ${old}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Retries while the cluster elects (publishes time out or get 503 meanwhile). */
async function retry<T>(fn: () => Promise<T>, attempts = 100): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
