import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { ClientEvent } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { PresenceTracker } from "./presence-tracker.ts";
import { startTestEdge } from "./testing/edge-harness.ts";
import { TestClient } from "./testing/test-client.ts";

type Harness = Awaited<ReturnType<typeof startTestEdge>>;
const harnesses: Harness[] = [];
const clients: TestClient[] = [];
after(async () => {
  for (const c of clients) c.ws.terminate();
  for (const h of harnesses) await h.edge.close();
});

/** An edge whose link records the presence events it is handed. */
async function edge(presenceGraceMs = 400) {
  const h = await startTestEdge({ presenceGraceMs, presenceLeaseMs: 100 });
  harnesses.push(h);
  const changes: string[] = [];
  const leases: { ttlMs: number; release: boolean }[] = [];
  const send = h.link.send.bind(h.link);
  h.link.send = (ev: ClientEvent, key: string) => {
    if (ev.kind.case === "presenceChange") {
      const c = ev.kind.value;
      changes.push(`${c.online ? "+" : "-"}${c.userId}@${c.room}`);
    } else if (ev.kind.case === "presenceLease") {
      leases.push({ ttlMs: ev.kind.value.ttlMs, release: ev.kind.value.release });
    }
    return send(ev, key);
  };
  return { h, changes, leases };
}

async function joined(url: string, user: string, room: string, presence = false) {
  const c = await TestClient.open(url);
  clients.push(c);
  c.send({ type: "auth", token: `user:${user}` });
  await c.next("welcome");
  c.send(presence ? { type: "join", room, presence: true } : { type: "join", room });
  await c.next("joined");
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${cond.toString()}`);
    await sleep(10);
  }
}

describe("presence at the gateway edge", () => {
  it("reports a user once per room, delays the departure, and ignores a flap", async () => {
    const { h, changes } = await edge();
    const a1 = await joined(h.url, "alice", "r");
    const a2 = await joined(h.url, "alice", "r");
    await sleep(50);
    assert.deepEqual(changes, ["+alice@r"]);
    a1.ws.close();
    await sleep(600);
    assert.deepEqual(changes, ["+alice@r"], "another connection of alice is still there");
    a2.ws.close();
    await sleep(100);
    await joined(h.url, "alice", "r"); // back within the grace period
    await sleep(600);
    assert.deepEqual(changes, ["+alice@r"], "a flap emits nothing");
    const b = await joined(h.url, "bob", "r");
    b.send({ type: "leave", room: "r" });
    await sleep(700);
    assert.deepEqual(changes, ["+alice@r", "+bob@r", "-bob@r"]);
  });

  it("indexes presence opt-ins under <room>#presence without using a room slot", async () => {
    const { h } = await edge();
    const c = await joined(h.url, "carol", "lobby", true);
    assert.ok(h.link.interest.has("lobby#presence"));
    c.send({ type: "join", room: "lobby" }); // re-join without presence: opt-out
    await c.next("joined");
    assert.ok(!h.link.interest.has("lobby#presence"));
    c.send({ type: "join", room: "lobby", presence: true });
    await c.next("joined");
    c.send({ type: "leave", room: "lobby" });
    await sleep(50);
    assert.ok(!h.link.interest.has("lobby#presence"));
    assert.ok(!h.link.interest.has("lobby"));
  });

  it("renews its lease and, at the end of a drain, reports departures and releases it", async () => {
    const { h, changes, leases } = await edge();
    await joined(h.url, "dave", "d1");
    await sleep(350);
    assert.ok(leases.filter((l) => !l.release).length >= 2, JSON.stringify(leases));
    assert.equal(leases[0]?.ttlMs, 300);
    await h.edge.drain(200);
    assert.deepEqual(
      changes,
      ["+dave@d1", "-dave@d1"],
      "the departure goes out at once, not after the grace",
    );
    assert.equal(leases.at(-1)?.release, true);
  });

  it("reports its users again when its lease lapsed while no logic stream was up", async () => {
    const { h, changes, leases } = await edge(1500);
    await joined(h.url, "gina", "g1");
    const c = await joined(h.url, "hal", "g1");
    c.ws.close(); // hal is in his grace period when the link goes down
    await until(() => changes.length === 2);
    assert.deepEqual(changes, ["+gina@g1", "+hal@g1"]);
    await until(() => leases.length > 0);
    h.link.streams = 0; // past 2.5 lease intervals without a logic stream
    await sleep(450);
    const renewals = leases.length;
    h.link.streams = 1;
    await until(() => changes.length >= 4);
    assert.ok(leases.length > renewals, "the lease is renewed");
    assert.deepEqual(changes.slice(2, 4).sort(), ["+gina@g1", "+hal@g1"], "both reported again");
    await until(() => changes.at(-1) === "-hal@g1");
    assert.equal(
      changes.length,
      5,
      `hal's departure still follows his grace period: ${JSON.stringify(changes)}`,
    );
  });

  it("rate-limits signals per connection", async () => {
    const { h } = await edge();
    const c = await joined(h.url, "erin", "s");
    for (let i = 0; i < 15; i++) c.send({ type: "signal", room: "s", kind: "typing" });
    let limited = 0;
    for (let i = 0; i < 5; i++) {
      const e = await c.next("error");
      if (e.code === "rate_limited") limited++;
    }
    assert.ok(limited >= 4, `${limited} rate_limited errors`);
    c.send({ type: "signal", room: "s", kind: "bad kind!" });
    assert.equal((await c.next("error")).code, "invalid_field");
    await sleep(1100); // refill a few tokens
    c.send(`{"type":"signal","room":"s","kind":"deep","body":${"[".repeat(20_000)}${"]".repeat(20_000)}}`);
    const deep = await c.next("error");
    assert.equal(deep.code, "invalid_field", JSON.stringify(deep));
    c.send({ type: "signal", room: "s", kind: "big", body: "x".repeat(2000) });
    assert.equal((await c.next("error")).code, "body_too_large");
  });
});

describe("PresenceTracker", () => {
  it("emits first arrivals and due departures in order", () => {
    const out: string[] = [];
    const t = new PresenceTracker(1000, (room, user, online) => {
      out.push(`${online ? "+" : "-"}${user}@${room}`);
      return true;
    });
    t.add("r", "a");
    t.add("r", "a");
    t.add("r", "b");
    t.remove("r", "a", 0);
    t.remove("r", "a", 10);
    t.remove("r", "b", 20);
    assert.equal(t.pendingDepartures, 2);
    t.tick(1009);
    assert.deepEqual(out, ["+a@r", "+b@r"]);
    t.tick(1010);
    assert.deepEqual(out, ["+a@r", "+b@r", "-a@r"]);
    t.add("r", "b"); // back in time: cancels
    t.tick(5000);
    assert.deepEqual(out, ["+a@r", "+b@r", "-a@r"]);
    t.remove("r", "b", 5000);
    t.flush();
    assert.deepEqual(out, ["+a@r", "+b@r", "-a@r", "-b@r"]);
    assert.equal(t.count("r"), 0);
  });

  it("reannounces present users and those in their grace period", () => {
    const out: string[] = [];
    const t = new PresenceTracker(1000, (room, user, online) => {
      out.push(`${online ? "+" : "-"}${user}@${room}`);
      return true;
    });
    t.add("r", "a");
    t.add("r", "b");
    t.add("s", "a");
    t.remove("r", "b", 0);
    out.length = 0;
    assert.equal(t.reannounce(), 3);
    assert.deepEqual(out.sort(), ["+a@r", "+a@s", "+b@r"]);
    t.tick(1000);
    assert.equal(out.at(-1), "-b@r", "the pending departure still happens");
  });

  it("retries a reannounce report the link refused at the next tick", () => {
    const out: string[] = [];
    let accept = false;
    const t = new PresenceTracker(1000, (room, user, online) => {
      if (!accept) return false;
      out.push(`${online ? "+" : "-"}${user}@${room}`);
      return true;
    });
    accept = true;
    t.add("r", "a");
    t.add("r", "b");
    accept = false;
    assert.equal(t.reannounce(), 2);
    assert.equal(t.pendingReannounce, 2, "refused: kept");
    t.remove("r", "a", 0);
    t.flush(); // a is gone entirely: nothing to reannounce for a
    accept = true;
    out.length = 0;
    t.tick(10);
    assert.deepEqual(out, ["+b@r"]);
    assert.equal(t.pendingReannounce, 0);
  });
});
