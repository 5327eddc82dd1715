import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { startTestEdge } from "../../gateway/src/edge/testing/edge-harness.ts";
import { DeliverySchema } from "../../gen/chatcluster/v1/gateway_stream_pb.js";
import { encodeMessageFrame } from "../../protocol/client-frames.ts";
import {
  ChatClient,
  ChatClientError,
  type ClientState,
  type MessageFrame,
  type WebSocketConstructor,
} from "./index.ts";

type Harness = Awaited<ReturnType<typeof startTestEdge>>;
const harnesses: Harness[] = [];
const clients: ChatClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const h of harnesses) await h.edge.close();
});

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function client(url: string, user: string, extra: Partial<ConstructorParameters<typeof ChatClient>[0]> = {}) {
  const c = new ChatClient({ url, token: `user:${user}`, backoff: { initialMs: 50, maxMs: 200 }, ...extra });
  const got: MessageFrame[] = [];
  const states: ClientState[] = [];
  c.on("message", (m) => got.push(m));
  c.on("state", (s) => states.push(s.state));
  clients.push(c);
  return { c, got, states };
}

/** A load balancer in one line: every new socket goes to the current target. */
function balancer(first: string) {
  const lb: { target: string; WebSocket: WebSocketConstructor } = { target: first, WebSocket };
  lb.WebSocket = class extends WebSocket {
    constructor(_url: string, protocols: string | string[]) {
      super(lb.target, protocols);
    }
  };
  return lb;
}

describe("ChatClient", () => {
  it("connects with the global WebSocket, joins, sends and receives exactly once", async () => {
    const h = await startTestEdge();
    harnesses.push(h);
    const { c, got } = client(h.url, "alice");
    c.join("lobby");
    c.connect();
    const ack = await c.send("lobby", { text: "hello" });
    assert.equal(ack.seq, 1);
    await until("message", () => got.length === 1);
    assert.equal(got[0]?.from, "alice");
    assert.deepEqual(got[0]?.body, { text: "hello" });
    assert.equal(c.state, "open");
  });

  it("never puts the token in the URL: it goes in the auth frame", async () => {
    const h = await startTestEdge();
    harnesses.push(h);
    const urls: string[] = [];
    const sent: string[] = [];
    const Recording = class extends WebSocket {
      constructor(url: string, protocols: string | string[]) {
        super(url, protocols);
        urls.push(url);
      }
      override send(data: string): void {
        sent.push(data);
        super.send(data);
      }
    };
    const { c } = client(h.url, "ida", { WebSocket: Recording });
    c.connect();
    await until("open", () => c.state === "open");
    assert.deepEqual(urls, [h.url]);
    assert.deepEqual(JSON.parse(sent[0] as string), { type: "auth", token: "user:ida" });
  });

  it("reconnects after the gateway dies and resumes each room from its last seq", async () => {
    const a = await startTestEdge();
    harnesses.push(a);
    const lb = balancer(a.url);
    const { c, got, states } = client("ws://balancer/", "bob", { WebSocket: lb.WebSocket });
    c.join("r");
    c.connect();
    await until("joined", () => a.link.interest.has("r"));
    for (let i = 1; i <= 3; i++) a.link.publish("r", "sys", `a${i}`, String(i));
    await until("3 messages", () => got.length === 3);
    await a.edge.close();
    const b = await startTestEdge({}, a.link.logic);
    harnesses.push(b);
    lb.target = b.url;
    for (let i = 4; i <= 6; i++) a.link.publish("r", "sys", `a${i}`, String(i));
    await until("resumed", () => got.length === 6);
    b.link.publish("r", "sys", "a7", "7");
    await until("live again", () => got.length === 7);
    assert.deepEqual(
      got.map((m) => m.seq),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.ok(states.includes("reconnecting"));
  });

  it("drops duplicates and resumes on a gap (prev > last seen)", async () => {
    const h = await startTestEdge();
    harnesses.push(h);
    const { c, got } = client(h.url, "carol");
    c.join("g");
    c.connect();
    await until("open", () => c.state === "open" && h.link.interest.has("g"));
    await new Promise((r) => setTimeout(r, 50));
    h.link.publish("g", "sys", "g1", "1");
    await until("g1", () => got.length === 1);
    // Stored but not delivered (as if a queue dropped it): seq 2.
    h.link.logic.append("g", "sys", "g2", new TextEncoder().encode("2"), []);
    // A duplicate of seq 1, then seq 3 whose prev (2) reveals the hole.
    const dup = encodeMessageFrame({
      room: "g",
      seq: 1,
      prev: 0,
      id: "g1",
      from: "sys",
      ts: 1,
      bodyJson: "1",
    });
    h.edge.deliver([create(DeliverySchema, { room: "g", seq: 1n, payload: dup })]);
    h.link.publish("g", "sys", "g3", "3");
    await until("resume filled the gap", () => got.length === 3);
    assert.deepEqual(
      got.map((m) => m.seq),
      [1, 2, 3],
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(got.length, 3);
  });

  it("retries a send with the same id until acked, across a refusal", async () => {
    const h = await startTestEdge();
    harnesses.push(h);
    const { c, got } = client(h.url, "dave", { ackTimeoutMs: 300 });
    c.join("s");
    c.connect();
    await until("open", () => c.state === "open");
    h.link.accepting = false;
    const p = c.send("s", "once", "fixed-id");
    await new Promise((r) => setTimeout(r, 200));
    h.link.accepting = true;
    const ack = await p;
    assert.equal(ack.id, "fixed-id");
    await until("message", () => got.length === 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(got.length, 1, "delivered exactly once");
    assert.equal(h.link.logic.headSeq("s"), 1);
  });

  it("stops resending a send at its retry horizon and rejects it as expired", async () => {
    const h = await startTestEdge();
    harnesses.push(h);
    const { c } = client(h.url, "faye", { ackTimeoutMs: 200, retryHorizonMs: 2500 });
    const attempts: number[] = [];
    c.on("error", (e) => {
      if (e.id === "h-1") attempts.push(Date.now());
    });
    c.connect();
    await until("open", () => c.state === "open");
    h.link.accepting = false; // every attempt is answered with a retryable error
    const t0 = Date.now();
    const err = await c.send("h", "late", "h-1").catch((e: unknown) => e);
    const tookMs = Date.now() - t0;
    assert.ok(err instanceof ChatClientError && err.code === "expired", String(err));
    // The horizon counts from the first transmission; the check runs on every resend and once a second.
    assert.ok(tookMs >= 2500 && tookMs < 4000, `rejected after ${tookMs} ms`);
    assert.ok(attempts.length >= 2, `retried before the horizon (${attempts.length} attempts)`);
    assert.ok(
      attempts.every((t) => t - t0 < 2500 + 100),
      "no attempt after the horizon",
    );
    // Nothing is resent later, even once the server takes sends again.
    h.link.accepting = true;
    const seen = attempts.length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(attempts.length, seen);
    assert.equal(h.link.headSeq("h"), 0);
    assert.equal(c.outboxSize, 0);
  });

  it("expires a send while offline and does not resend it on reconnect", async () => {
    const a = await startTestEdge();
    harnesses.push(a);
    const lb = balancer(a.url);
    const { c } = client("ws://balancer/", "gus", {
      WebSocket: lb.WebSocket,
      retryHorizonMs: 1000,
      ackTimeoutMs: 5000,
    });
    c.connect();
    await until("open", () => c.state === "open");
    a.link.accepting = false;
    const p = c.send("o", "stale", "o-1").catch((e: unknown) => e);
    await until("first attempt refused", () => a.link.counts.send === 0 && c.outboxSize === 1);
    await a.edge.close(); // offline with the send unacknowledged
    lb.target = "ws://127.0.0.1:9/"; // nothing listens: the client stays offline
    const err = await p;
    assert.ok(err instanceof ChatClientError && err.code === "expired", String(err));
    assert.equal(c.state === "open", false, "expired while offline");
    const b = await startTestEdge({}, a.link.logic);
    harnesses.push(b);
    lb.target = b.url;
    await until("back", () => c.state === "open", 15_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(b.link.counts.send, 0, "the expired send was not resent");
    assert.equal(b.link.headSeq("o"), 0);
  });

  it("refuses a retry horizon that is not a positive number of ms", () => {
    for (const retryHorizonMs of [0, -1, Number.NaN])
      assert.throws(() => new ChatClient({ url: "ws://x/", token: "t", retryHorizonMs }), /retryHorizonMs/);
  });

  it("resends refused sends within its retry budget, not all of them at each hint", async () => {
    const h = await startTestEdge();
    harnesses.push(h);
    // No retries earned by sending; one saved up, one more a second.
    const { c } = client(h.url, "gil", { retryBudget: { ratio: 0, minPerSecond: 1, max: 1 } });
    c.connect();
    await until("open", () => c.state === "open");
    h.link.accepting = false;
    const attempts = async () =>
      Number(
        /chatcluster_gateway_frames_in_total\{type="send"\} (\d+)/.exec(await h.registry.metrics())?.[1] ?? 0,
      );
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) void c.send("s", i, `gil-${i}`).catch(() => {});
    await new Promise((r) => setTimeout(r, 3000));
    const seconds = (Date.now() - t0) / 1000;
    // Ten refused sends with hints under 1.5 s would be resent at least 20 times in 3 s without a budget.
    const n = await attempts();
    assert.ok(n >= 10 && n <= 10 + 1 + Math.ceil(seconds), `${n} send frames in ${seconds} s`);
    assert.equal(c.outboxSize, 10, "nothing was dropped: the rest waits for the budget");
  });

  it("stops on a refusal retrying cannot fix (bad token) and rejects pending sends", async () => {
    const h = await startTestEdge();
    harnesses.push(h);
    const c = new ChatClient({ url: h.url, token: "wrong" });
    const errors: string[] = [];
    c.on("error", (e) => errors.push(e.code));
    c.connect();
    const p = c.send("x", 1).catch((e: unknown) => e);
    await until("closed", () => c.state === "closed");
    assert.ok(errors.includes("unauthorized"));
    assert.match(String(await p), /closed/);
  });

  it("paces its frames under the server's rate limit: a burst of sends is never refused", async () => {
    const h = await startTestEdge({ messagesPerSecond: 50, messageBurst: 10, rateStrikes: 3 });
    harnesses.push(h);
    const { c } = client(h.url, "erin");
    const errors: string[] = [];
    c.on("error", (e) => errors.push(e.code));
    c.connect();
    await until("open", () => c.state === "open");
    const acks = await Promise.all(Array.from({ length: 100 }, (_, i) => c.send("p", i)));
    assert.equal(new Set(acks.map((a) => a.seq)).size, 100);
    assert.deepEqual(errors, []);
    assert.equal(c.state, "open");
  });

  it("bounds the pacer's backlog of other frames, says so once per overflow, and never drops sends", async () => {
    // The pacer runs at 9 frames/s (90 % of the server's rate) with a burst of one.
    const h = await startTestEdge({
      messagesPerSecond: 10,
      messageBurst: 3,
      signalsPerSecond: 100,
      signalBurst: 100,
    });
    harnesses.push(h);
    const { c } = client(h.url, "fay", { backlogLimit: 5 });
    const overflows: string[] = [];
    c.on("error", (e) => {
      if (e.code === "backlog_full") overflows.push(e.message);
    });
    c.connect();
    await until("open", () => c.state === "open");
    // One send takes the pacer's only token; the other nine wait, then five signals.
    const acks = Array.from({ length: 10 }, (_, i) => c.send("p", i));
    for (let i = 0; i < 30; i++) c.signal("p", "typing");
    assert.equal(c.droppedFrames, 25, "five signals wait; the other 25 are dropped");
    assert.equal(overflows.length, 1, "one error event for the whole overflow");
    await assert.rejects(c.presence("p"), /backlog_full/);
    assert.equal(c.droppedFrames, 26);
    // Sends are bounded by the outbox, not here: every one is acknowledged.
    assert.equal(new Set((await Promise.all(acks)).map((a) => a.seq)).size, 10);
    // The five signals follow the sends; once they are out the backlog is empty and the signal re-arms.
    const signalsIn = async () =>
      Number(
        /chatcluster_gateway_frames_in_total\{type="signal"\} (\d+)/.exec(await h.registry.metrics())?.[1],
      );
    const deadline = Date.now() + 10_000;
    while ((await signalsIn()) < 5) {
      assert.ok(Date.now() < deadline, "the queued signals reach the gateway");
      await new Promise((r) => setTimeout(r, 20));
    }
    for (let i = 0; i < 30; i++) c.signal("p", "typing");
    assert.equal(overflows.length, 2);
    assert.equal(c.state, "open");
  });

  it("refreshes its token without a reconnect; a room the new token does not grant is left for good", async () => {
    const a = await startTestEdge();
    harnesses.push(a);
    const lb = balancer(a.url);
    let token = "reader:gus:team.a,team.b";
    const { c, states } = client("ws://balancer/", "gus", { WebSocket: lb.WebSocket, token: () => token });
    const left: { room: string; reason: string }[] = [];
    const welcomes: string[] = [];
    c.on("left", (f) => left.push({ room: f.room, reason: f.reason }));
    c.on("welcome", (w) => welcomes.push(w.connection_id));
    c.join("team.a");
    c.join("team.b");
    c.connect();
    await until("both joined", () => a.link.interest.has("team.a") && a.link.interest.has("team.b"));
    const joinsBefore = a.link.counts.join;
    token = "reader:gus:team.a,team.c";
    await c.refreshToken();
    await until("left", () => left.length === 1);
    assert.deepEqual(left, [{ room: "team.b", reason: "forbidden" }]);
    assert.equal(welcomes.length, 2);
    assert.equal(welcomes[0], welcomes[1], "the same connection");
    assert.equal(a.link.counts.join, joinsBefore, "a refresh re-joins nothing");
    assert.ok(!states.includes("reconnecting"));
    // After a reconnect only the room the token grants is joined again.
    await a.edge.close();
    const b = await startTestEdge({}, a.link.logic);
    harnesses.push(b);
    lb.target = b.url;
    await until("re-joined", () => b.link.interest.has("team.a"));
    // Frames leave in order: once a later join is in, a re-join of team.b would be too.
    c.join("team.c");
    await until("a later join", () => b.link.interest.has("team.c"));
    assert.ok(!b.link.interest.has("team.b"));
  });

  it("rejects send beyond the outbox bound", async () => {
    const c = new ChatClient({ url: "ws://127.0.0.1:9/", token: "t", outboxLimit: 1 });
    const first = c.send("r", 1);
    await assert.rejects(c.send("r", 2), /outbox_full/);
    c.close();
    await assert.rejects(first, /closed/);
  });
});
