// Replica health of the store's streams, from the JetStream API: the pure
// assessment of a stream's info (shaped as nats-server 2.15 answers it), and
// the probe against a real 3-node cluster while a follower is killed, paused
// and brought back.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { StreamInfo } from "@nats-io/jetstream";
import { JetStreamPresenceTable } from "../logic/src/store/jetstream-presence-table.ts";
import { JetStreamStore } from "../logic/src/store/jetstream-store.ts";
import { until } from "../logic/src/store/testing/eventually.ts";
import {
  type NatsCluster,
  type NatsNode,
  needsReal,
  startNatsCluster,
  trackFailures,
} from "../testenv/harness/index.ts";
import { assessStream, type StoreHealth, StoreHealthProbe, summarise } from "./jetstream-health.ts";
import { createLogger } from "./logger.ts";

const S = 1e9; // nanoseconds

function info(cluster: StreamInfo["cluster"], replicas = 3): StreamInfo {
  return { config: { name: "CC", num_replicas: replicas }, cluster } as unknown as StreamInfo;
}
const peer = (name: string, current: boolean, activeS: number, lag?: number, offline?: boolean) => ({
  name,
  current,
  active: activeS * S,
  ...(lag === undefined ? {} : { lag }),
  ...(offline === undefined ? {} : { offline }),
});

describe("assessStream", () => {
  it("healthy: a leader, every replica current and recently heard from", () => {
    const h = assessStream(
      info({ leader: "n1", replicas: [peer("n0", true, 0.01), peer("n2", true, 0.009)] } as never),
    );
    assert.equal(h.reason, "Healthy");
    assert.equal(h.leader, "n1");
    assert.deepEqual(
      h.replicas.map((r) => [r.server, r.leader]),
      [
        ["n1", true],
        ["n0", false],
        ["n2", false],
      ],
    );
  });

  it("a killed follower: not current and falling behind is lagging; silent past the threshold is offline", () => {
    const lagging = assessStream(
      info({ leader: "n1", replicas: [peer("n0", false, 1, 41), peer("n2", true, 0)] } as never),
    );
    assert.equal(lagging.reason, "ReplicaLagging");
    assert.match(lagging.message, /n0 catching up \(41 behind\)/);
    const gone = assessStream(
      info({ leader: "n1", replicas: [peer("n0", false, 8, 308), peer("n2", true, 0)] } as never),
    );
    assert.equal(gone.reason, "ReplicaOffline");
    assert.match(gone.message, /n0 offline \(silent for 8 s\)/);
  });

  it("a paused follower still reported current but silent is offline; a marked one too", () => {
    const paused = assessStream(
      info({ leader: "n1", replicas: [peer("n0", true, 6.1), peer("n2", true, 0.1)] } as never),
    );
    assert.equal(paused.reason, "ReplicaOffline");
    const marked = assessStream(
      info({ leader: "n1", replicas: [peer("n0", false, 0, 0, true), peer("n2", true, 0)] } as never),
    );
    assert.match(marked.message, /marked offline/);
    assert.equal(
      assessStream(info({ leader: "n1", replicas: [peer("n0", true, 6.1), peer("n2", true, 0)] } as never), {
        silentAfterMs: 10_000,
      }).reason,
      "Healthy",
    );
  });

  it("no leader, fewer peers than replicas, and a single server", () => {
    assert.equal(
      assessStream(info({ replicas: [peer("n0", false, 3), peer("n2", false, 3)] } as never)).reason,
      "NoLeader",
    );
    assert.equal(
      assessStream(info({ leader: "n1", replicas: [peer("n0", true, 0)] } as never)).reason,
      "ReplicasMissing",
    );
    assert.equal(assessStream(info(undefined, 1)).reason, "Healthy");
  });

  it("summarises the worst stream first", () => {
    const a = assessStream(
      info({ leader: "n1", replicas: [peer("n0", false, 1, 5), peer("n2", true, 0)] } as never),
    );
    const b = assessStream(info({ replicas: [] } as never));
    const s = summarise([a, b]);
    assert.equal(s.state, "degraded");
    assert.equal(s.reason, "NoLeader");
    assert.ok(s.message.indexOf("no leader") < s.message.indexOf("catching up"));
    assert.equal(summarise([]).state, "healthy");
  });
});

describe("StoreHealthProbe on a 3-node cluster", { skip: needsReal("nats-server (make testenv)") }, () => {
  let cluster: NatsCluster;
  let probe: StoreHealthProbe;
  let store: JetStreamStore;
  let presence: JetStreamPresenceTable;
  const failed = trackFailures();

  before(async () => {
    cluster = await startNatsCluster({ name: "store-health" });
    probe = await StoreHealthProbe.open({ servers: cluster.urls, stream: "CCH", timeoutMs: 2000 });
  });
  after(async () => {
    await presence?.close();
    await store?.close();
    await probe?.close();
    await cluster?.stop({ failed: failed() });
  });

  const eventually = async (what: string, ok: (h: StoreHealth) => boolean): Promise<StoreHealth> => {
    let last: StoreHealth | undefined;
    await until(
      what,
      async () => {
        last = await probe.check();
        return ok(last);
      },
      60_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; last: ${JSON.stringify(last)}`);
    });
    return last as StoreHealth;
  };

  it("reports missing streams before logic created them", async () => {
    const h = await probe.check();
    assert.equal(h.state, "degraded");
    assert.equal(h.reason, "StreamMissing");
    assert.match(h.message, /CCH: stream not found; CCH_PRESENCE: stream not found/);
  });

  it("healthy once logic's streams exist at replicas 3, naming each leader", async () => {
    const opts = { servers: cluster.urls, stream: "CCH", requestTimeoutMs: 2000, replicas: 3 };
    store = await JetStreamStore.open({
      ...opts,
      subjectPrefix: "cch",
      duplicateWindowMs: 120_000,
      connectionName: "health",
    });
    presence = await JetStreamPresenceTable.open({
      ...opts,
      subjectPrefix: "cch",
      connectionName: "health",
      log: createLogger("logic", "warn"),
    });
    await store.setReadMarker("r", "u", 1);
    const h = await eventually("healthy", (x) => x.state === "healthy");
    assert.deepEqual(
      h.streams.map((s) => [s.stream, s.desiredReplicas, s.replicas.length]),
      [
        ["CCH", 3, 3],
        ["CCH_PRESENCE", 3, 3],
        ["CCH_READS", 3, 3],
      ],
    );
    for (const s of h.streams)
      assert.ok(
        cluster.nodes.some((n) => n.serverName === s.leader),
        s.stream,
      );
  });

  it("degraded while a follower is killed, healthy again once it is back and current", async () => {
    const leader = await cluster.streamLeader("CCH");
    const victim = cluster.nodes.find((n) => n !== leader) as NatsNode;
    victim.kill("SIGKILL");
    for (let i = 0; i < 20; i++)
      await store.append("r", { id: `k${i}`, from: "u", body: "1" }).catch(() => {});
    const h = await eventually(
      "degraded",
      (x) => x.state === "degraded" && x.message.includes(victim.serverName),
    );
    assert.ok(["ReplicaOffline", "ReplicaLagging"].includes(h.reason), h.reason);
    await victim.start();
    await eventually("healthy again", (x) => x.state === "healthy");
  });

  it("degraded as offline while a follower is paused (silent), healthy after SIGCONT", async () => {
    const leader = await cluster.streamLeader("CCH");
    const victim = cluster.nodes.find((n) => n !== leader) as NatsNode;
    victim.pause();
    try {
      const h = await eventually(
        "offline",
        (x) => x.reason === "ReplicaOffline" && x.message.includes(victim.serverName),
      );
      assert.match(h.message, /silent for \d+ s/);
    } finally {
      victim.resume();
    }
    await eventually("healthy again", (x) => x.state === "healthy");
  });

  it("unknown when no server answers", async () => {
    await Promise.all(cluster.nodes.map((n) => n.stop()));
    const h = await probe.check();
    assert.equal(h.state, "unknown");
    assert.equal(h.reason, "Unreachable");
  });
});
