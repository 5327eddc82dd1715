// The monitor's lifecycle with fake probes: one probe per ChatCluster, kept
// across reconciles, replaced when the store changes, closed when the
// ChatCluster goes; a probe that hangs gives Unreachable after the timeout;
// only a changed result wakes the reconciler.
import assert from "node:assert/strict";
import { EventEmitter, once } from "node:events";
import { describe, it } from "node:test";
import type { StoreHealth } from "../../platform/jetstream-health.ts";
import { createLogger } from "../../platform/logger.ts";
import type { ChatCluster } from "./api/chatcluster-types.ts";
import { withStoreCondition } from "./store-health-condition.ts";
import { type HealthProbe, StoreHealthMonitor, type StoreTarget } from "./store-health-monitor.ts";

const log = createLogger("test", "silent");

const healthy: StoreHealth = { state: "healthy", reason: "Healthy", message: "", streams: [], checkedAt: 0 };
const offline: StoreHealth = {
  state: "degraded",
  reason: "ReplicaOffline",
  message: "CC: replica n1 offline (silent for 6 s)",
  streams: [],
  checkedAt: 0,
};

class FakeProbes {
  readonly opened: { target: StoreTarget; closed: boolean; checks: number }[] = [];
  /** What the next checks answer; a function that never resolves models a hung server. */
  answer: () => Promise<StoreHealth> = async () => healthy;
  failOpen = false;
  readonly events = new EventEmitter();

  open = async (target: StoreTarget): Promise<HealthProbe> => {
    if (this.failOpen) throw new Error("CONNECTION_REFUSED");
    const rec = { target, closed: false, checks: 0 };
    this.opened.push(rec);
    return {
      check: async () => {
        rec.checks++;
        return this.answer();
      },
      close: async () => {
        rec.closed = true;
      },
    };
  };

  get live(): number {
    return this.opened.filter((p) => !p.closed).length;
  }
}

function monitor(probes: FakeProbes, o: { intervalMs?: number; checkTimeoutMs?: number } = {}) {
  const changes: string[] = [];
  const results: [string, StoreHealth | undefined][] = [];
  const m = new StoreHealthMonitor({
    open: probes.open,
    intervalMs: o.intervalMs ?? 20,
    firstCheckMs: 0,
    checkTimeoutMs: o.checkTimeoutMs ?? 5000,
    onChange: (key) => {
      changes.push(key);
      probes.events.emit("change", key);
    },
    onResult: (key, h) => {
      results.push([key, h]);
      probes.events.emit("result", key, h);
    },
    log,
  });
  return { m, changes, results };
}

const target = (stream = "CC", servers = ["nats://a:4222", "nats://b:4222"]): StoreTarget => ({
  servers,
  stream,
});

/** Resolves at the next result for `key` that satisfies `pred`. */
async function nextResult(
  probes: FakeProbes,
  key: string,
  pred: (h: StoreHealth | undefined) => boolean = () => true,
): Promise<StoreHealth | undefined> {
  for (;;) {
    const [k, h] = (await once(probes.events, "result")) as [string, StoreHealth | undefined];
    if (k === key && pred(h)) return h;
  }
}

describe("StoreHealthMonitor", () => {
  it("keeps one probe per ChatCluster across reconciles and reports only changes", async () => {
    const probes = new FakeProbes();
    const { m, changes } = monitor(probes);
    const first = nextResult(probes, "ns/a");
    for (let i = 0; i < 5; i++) m.sync("ns/a", target());
    assert.equal((await first)?.state, "healthy");
    assert.deepEqual(changes, ["ns/a"]);
    // Several more checks on the same probe: healthy again changes nothing.
    for (let i = 0; i < 3; i++) await nextResult(probes, "ns/a");
    for (let i = 0; i < 5; i++) m.sync("ns/a", target());
    assert.equal(probes.opened.length, 1);
    assert.ok(probes.opened[0]!.checks >= 4);
    assert.deepEqual(changes, ["ns/a"]);
    probes.answer = async () => offline;
    assert.equal(
      (await nextResult(probes, "ns/a", (h) => h?.state === "degraded"))?.reason,
      "ReplicaOffline",
    );
    assert.equal(m.health("ns/a")?.reason, "ReplicaOffline");
    assert.deepEqual(changes, ["ns/a", "ns/a"]);
    await m.stop();
    assert.equal(probes.live, 0);
  });

  it("replaces the probe when the servers or stream change, and closes it when the store leaves NATS", async () => {
    const probes = new FakeProbes();
    const { m, results } = monitor(probes);
    m.sync("ns/a", target());
    await nextResult(probes, "ns/a");
    m.sync("ns/a", target("OTHER"));
    await nextResult(probes, "ns/a", (h) => h !== undefined);
    assert.equal(probes.opened.length, 2);
    assert.equal(probes.opened[0]!.closed, true);
    assert.equal(probes.opened[1]!.target.stream, "OTHER");
    m.sync("ns/a", target("OTHER", ["nats://c:4222"]));
    await nextResult(probes, "ns/a", (h) => h !== undefined);
    assert.equal(probes.opened.length, 3);
    assert.equal(probes.live, 1);
    m.sync("ns/a", undefined);
    assert.equal(m.health("ns/a"), undefined);
    assert.equal(m.size, 0);
    // The metric's series goes with it.
    assert.deepEqual(results.at(-1), ["ns/a", undefined]);
    await until(() => probes.live === 0);
    await m.stop();
  });

  it("closes a deleted ChatCluster's probe and keeps the others", async () => {
    const probes = new FakeProbes();
    const { m } = monitor(probes);
    m.sync("ns/a", target("A"));
    m.sync("ns/b", target("B"));
    await Promise.all([nextResult(probes, "ns/a"), nextResult(probes, "ns/b")]);
    m.forget("ns/a");
    await until(() => probes.opened.find((p) => p.target.stream === "A")?.closed === true);
    assert.equal(m.size, 1);
    await nextResult(probes, "ns/b");
    assert.equal(probes.live, 1);
    await m.stop();
    assert.equal(probes.live, 0);
    // Stopped: nothing opens again.
    m.sync("ns/c", target("C"));
    assert.equal(m.size, 0);
  });

  it("a hung check gives Unknown/Unreachable after the timeout, then recovers on the same probe", async () => {
    const probes = new FakeProbes();
    const { m, changes } = monitor(probes, { checkTimeoutMs: 50 });
    probes.answer = () => new Promise<StoreHealth>(() => {});
    m.sync("ns/a", target());
    const h = await nextResult(probes, "ns/a");
    assert.equal(h?.state, "unknown");
    assert.equal(h?.reason, "Unreachable");
    assert.match(h?.message ?? "", /no answer within 50 ms/);
    probes.answer = async () => healthy;
    await nextResult(probes, "ns/a", (x) => x?.state === "healthy");
    assert.deepEqual(changes, ["ns/a", "ns/a"]);
    assert.equal(probes.opened.length, 1);
    await m.stop();
    assert.equal(probes.live, 0);
  });

  it("a NATS that refuses connections is Unreachable and retried on the interval", async () => {
    const probes = new FakeProbes();
    probes.failOpen = true;
    const { m } = monitor(probes);
    m.sync("ns/a", target());
    const h = await nextResult(probes, "ns/a");
    assert.equal(h?.reason, "Unreachable");
    assert.match(h?.message ?? "", /CONNECTION_REFUSED/);
    probes.failOpen = false;
    await nextResult(probes, "ns/a", (x) => x?.state === "healthy");
    assert.equal(probes.opened.length, 1);
    await m.stop();
    assert.equal(probes.live, 0);
  });

  it("stop() while a check is in flight closes its probe once it returns", async () => {
    const probes = new FakeProbes();
    const { m } = monitor(probes);
    let release: (h: StoreHealth) => void = () => {};
    m.sync("ns/a", target());
    await nextResult(probes, "ns/a");
    probes.answer = () =>
      new Promise<StoreHealth>((r) => {
        release = r;
      });
    await until(() => probes.opened[0]!.checks >= 2);
    const stopped = m.stop();
    release(healthy);
    await stopped;
    assert.equal(probes.live, 0);
  });
});

describe("withStoreCondition", () => {
  const cc = (conditions: ChatCluster["status"] = {}): ChatCluster =>
    ({ metadata: { name: "a", generation: 4 }, spec: {}, status: conditions }) as unknown as ChatCluster;
  const t0 = new Date("2026-01-01T00:00:00Z");
  const t1 = new Date("2026-01-01T00:05:00Z");

  it("maps the probe's state to True, False and Unknown, keeping lastTransitionTime while the status holds", () => {
    const none = withStoreCondition({ conditions: [] }, cc(), undefined, t0);
    assert.deepEqual(none.conditions, []);
    const degraded = withStoreCondition({ conditions: [] }, cc(), offline, t0).conditions![0]!;
    assert.equal(degraded.type, "StoreDegraded");
    assert.equal(degraded.status, "True");
    assert.equal(degraded.reason, "ReplicaOffline");
    assert.equal(degraded.message, offline.message);
    assert.equal(degraded.observedGeneration, 4);
    const lagging = { ...offline, reason: "ReplicaLagging" as const, message: "CC: replica n1 catching up" };
    const still = withStoreCondition({ conditions: [] }, cc({ conditions: [degraded] }), lagging, t1)
      .conditions![0]!;
    assert.equal(still.lastTransitionTime, degraded.lastTransitionTime);
    assert.equal(still.reason, "ReplicaLagging");
    const back = withStoreCondition({ conditions: [] }, cc({ conditions: [still] }), healthy, t1)
      .conditions![0]!;
    assert.deepEqual([back.status, back.reason], ["False", "Healthy"]);
    assert.notEqual(back.lastTransitionTime, degraded.lastTransitionTime);
    const unknown = withStoreCondition(
      { conditions: [] },
      cc(),
      {
        ...healthy,
        state: "unknown",
        reason: "Unreachable",
        message: "JetStream API did not answer: timeout",
      },
      t0,
    ).conditions![0]!;
    assert.deepEqual([unknown.status, unknown.reason], ["Unknown", "Unreachable"]);
  });
});

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}
