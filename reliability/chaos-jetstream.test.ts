// Chaos under load with the store on a real 3-node JetStream cluster, every
// stream at replicas 3 and both logic processes connected through all three
// URLs: the message stream's leader killed, a follower stalled, the whole
// cluster rolled. Senders may see retryable errors (the SDK retries with the
// same ids); nothing acknowledged is lost or duplicated, no client is
// disconnected, and the window during which sends failed is measured.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type NatsCluster,
  type NatsNode,
  needsReal,
  startNatsCluster,
  trackFailures,
} from "../testenv/harness/index.ts";
import { runScenario } from "./scenario.ts";
import { type ReliabilityStack, startReliabilityStack } from "./stack.ts";

/** The streams logic creates (default --nats-stream). */
const MESSAGES = "CHATCLUSTER";
const STREAMS = [MESSAGES, `${MESSAGES}_READS`, `${MESSAGES}_PRESENCE`];
const STALL_MS = 10_000;

describe("chaos under load (store=nats, 3-node JetStream cluster, replicas 3)", {
  timeout: 600_000,
  skip: needsReal("nats-server (make testenv)"),
}, () => {
  let cluster: NatsCluster;
  let rs: ReliabilityStack;
  const failed = trackFailures();
  before(async () => {
    cluster = await startNatsCluster({ name: "reliability-jetstream" });
    rs = await startReliabilityStack({
      store: "nats",
      natsUrl: cluster.urls.join(","),
      logicArgs: ["--nats-replicas=3"],
    });
    // The read-marker stream is created on first use; the other two by now.
    for (const s of [MESSAGES, `${MESSAGES}_PRESENCE`]) await cluster.waitStreamCurrent(s);
  });
  after(async () => {
    await rs?.stop();
    await cluster?.stop({ failed: failed() });
  });

  it("(g) SIGKILL of the message stream's leader, then its restart: nothing acknowledged lost", async () => {
    let killed: NatsNode | undefined;
    let next: NatsNode | undefined;
    let electedAfterMs = 0;
    await runScenario(rs, {
      id: "chaos-g-jetstream-leader-kill",
      fault:
        "SIGKILL the node leading the message stream (found through the JetStream API); start it again once another node leads; wait until its replica is current",
      noDisconnects: true,
      measureImpact: true,
      async inject() {
        killed = await cluster.streamLeader(MESSAGES);
        const t0 = Date.now();
        killed.kill("SIGKILL");
        next = await leaderOtherThan(cluster, killed);
        electedAfterMs = Date.now() - t0;
        await killed.start();
        await currentEverywhere(cluster);
      },
      outcome: (r) =>
        `${killed?.serverName} killed; ${next?.serverName} led the stream ${(electedAfterMs / 1000).toFixed(1)} s later; senders got ${r.retryableErrors} retryable errors (${JSON.stringify(r.errorCodes)}), the SDK retried with the same ids; ${r.disconnects} client disconnects, ${r.duplicates} duplicates`,
      check: (r) => {
        assert.ok(
          Object.keys(r.errorCodes).every((c) => c === "unavailable" || c === "internal"),
          `only retryable errors: ${JSON.stringify(r.errorCodes)}`,
        );
      },
    });
  });

  it("(h) SIGSTOP of a follower for 10 s: the quorum of two carries on", async () => {
    let stalled: NatsNode | undefined;
    let stalledConnections = 0;
    await runScenario(rs, {
      id: "chaos-h-jetstream-follower-stop",
      fault: `SIGSTOP a follower of the message stream for ${STALL_MS / 1000} s (the one most logic connections use), then SIGCONT; wait until its replica is current`,
      noDisconnects: true,
      measureImpact: true,
      async inject() {
        const leader = await cluster.streamLeader(MESSAGES);
        const followers = cluster.nodes.filter((n) => n !== leader);
        const used = await Promise.all(followers.map(logicConnections));
        stalled = followers[used.indexOf(Math.max(...used))] as NatsNode;
        stalledConnections = Math.max(...used);
        stalled.pause();
        try {
          await new Promise((r) => setTimeout(r, STALL_MS));
        } finally {
          stalled.resume();
        }
        await currentEverywhere(cluster);
      },
      outcome: (r) =>
        `${stalled?.serverName} (holding ${stalledConnections} of the logic processes' NATS connections) stalled while the leader and the other follower went on; senders got ${r.retryableErrors} retryable errors (${JSON.stringify(r.errorCodes)}); ${r.disconnects} client disconnects, ${r.duplicates} duplicates`,
    });
  });

  it("(i) a rolling restart of the whole cluster, one node at a time: no quorum loss, nothing lost", async () => {
    const order: string[] = [];
    await runScenario(rs, {
      id: "chaos-i-jetstream-cluster-restart",
      fault:
        "SIGTERM and start every node in turn (followers first, the message stream's leader last), each once every stream is current on all three",
      noDisconnects: true,
      measureImpact: true,
      async inject() {
        const leader = await cluster.streamLeader(MESSAGES);
        for (const node of [...cluster.nodes.filter((n) => n !== leader), leader]) {
          order.push(node.serverName);
          await node.restart();
          await currentEverywhere(cluster);
        }
      },
      outcome: (r) =>
        `restarted ${order.join(", ")}; senders got ${r.retryableErrors} retryable errors (${JSON.stringify(r.errorCodes)}); ${r.disconnects} client disconnects, ${r.duplicates} duplicates`,
    });
  });
});

/** Every stream logic uses has a leader and all its replicas current (read markers once they exist). */
async function currentEverywhere(cluster: NatsCluster): Promise<void> {
  for (const s of STREAMS) {
    const exists = await cluster.streamInfo(s).then(
      () => true,
      () => s !== `${MESSAGES}_READS`,
    );
    if (exists) await cluster.waitStreamCurrent(s, 120_000);
  }
}

/** The logic processes' NATS connections a node holds (its /connz). */
async function logicConnections(node: NatsNode): Promise<number> {
  const connz = (await (await fetch(`${node.monitorUrl}/connz?limit=1024`)).json()) as {
    connections?: { name?: string }[];
  };
  return (connz.connections ?? []).filter((c) => c.name?.startsWith("chatcluster-logic-")).length;
}

async function leaderOtherThan(cluster: NatsCluster, old: NatsNode): Promise<NatsNode> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const n = await cluster.streamLeader(MESSAGES, 10_000).catch(() => undefined);
    if (n !== undefined && n !== old) return n;
    if (Date.now() > deadline) throw new Error(`no leader of ${MESSAGES} other than ${old.serverName}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
