import assert from "node:assert/strict";
import { request } from "node:http";
import { after, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { DeliverySchema, ReplySchema } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { encodeMessageFrame } from "../../../protocol/client-frames.ts";
import { startTestEdge } from "./testing/edge-harness.ts";
import { TestClient } from "./testing/test-client.ts";

type Harness = Awaited<ReturnType<typeof startTestEdge>>;
const harnesses: Harness[] = [];
async function edge(limits: Parameters<typeof startTestEdge>[0] = {}) {
  const h = await startTestEdge(limits);
  harnesses.push(h);
  return h;
}
after(async () => {
  for (const h of harnesses) await h.edge.close();
});

async function authed(url: string, user = "alice") {
  const c = await TestClient.open(url);
  c.send({ type: "auth", token: `user:${user}` });
  await c.next("welcome");
  return c;
}

function upgradeStatus(
  port: number,
): Promise<{ status: number; retryAfter: string | undefined; reason: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port,
      path: "/",
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
        "sec-websocket-protocol": "chatcluster.v1",
      },
    });
    req.on("response", (res) => {
      res.resume();
      resolve({
        status: res.statusCode ?? 0,
        retryAfter: res.headers["retry-after"] as string | undefined,
        reason: String(res.headers["x-chatcluster-refusal"] ?? ""),
      });
    });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, retryAfter: undefined, reason: "" });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("edge: connect and auth", () => {
  it("answers an auth frame with welcome (user, connection id, heartbeat, limits)", async () => {
    const h = await edge({ heartbeatMs: 30_000 });
    const c = await TestClient.open(h.url);
    c.send({ type: "auth", token: "user:alice" });
    const w = await c.next("welcome");
    assert.equal(w.user, "alice");
    assert.match(w.connection_id, /^gw-test\/\d+$/);
    assert.equal(w.heartbeat_ms, 30_000);
    assert.equal(w.limits.max_frame_bytes, h.edge.limits.maxFrameBytes);
    assert.equal(w.limits.messages_per_second, h.edge.limits.messagesPerSecond);
    c.ws.close();
  });

  it("refuses a token in the URL with 4001 unless allowed, and never hands it to logic", async () => {
    const h = await edge();
    const c = await TestClient.open(`${h.url}?room=x&token=user:bob`);
    const e = await c.next("error");
    assert.equal(e.code, "unauthorized");
    assert.match(e.message, /auth frame/);
    assert.equal(await c.waitClosed(), 4001);
    assert.equal(h.link.counts.auth, 0, "the token never reached logic");
    assert.match(await h.registry.metrics(), /chatcluster_gateway_url_tokens_refused_total 1\b/);
    const other = await TestClient.open(`${h.url}?room=x`);
    other.send({ type: "auth", token: "user:bob" });
    assert.equal((await other.next("welcome")).user, "bob", "other query parameters are fine");
    other.ws.close();

    const allowing = await edge({ allowTokenInUrl: true });
    const d = await TestClient.open(`${allowing.url}?token=user:bob`);
    assert.equal((await d.next("welcome")).user, "bob");
    d.ws.close();
  });

  it("refuses a bad token with an error frame and close 4001", async () => {
    const h = await edge();
    const c = await TestClient.open(h.url);
    c.send({ type: "auth", token: "nope" });
    assert.equal((await c.next("error")).code, "unauthorized");
    assert.equal(await c.waitClosed(), 4001);
  });

  it("closes 4001 at once on an auth frame without a usable token (empty, missing, not a string)", async () => {
    // A long auth timeout: the close must come from the token, not from the timer.
    const h = await edge({ authTimeoutMs: 60_000 });
    for (const auth of [{ type: "auth", token: "" }, { type: "auth" }, { type: "auth", token: 7 }]) {
      const c = await TestClient.open(h.url);
      c.send(auth);
      assert.equal((await c.next("error")).code, "invalid_field");
      assert.equal(await c.waitClosed(), 4001, JSON.stringify(auth));
    }
  });

  it("closes with 4004 auth_timeout when no auth answer comes in time", async () => {
    const h = await edge({ authTimeoutMs: 300 });
    const idle = await TestClient.open(h.url);
    const silent = await TestClient.open(h.url);
    silent.send({ type: "auth", token: "silent:x" });
    assert.equal(await idle.waitClosed(), 4004);
    assert.equal(await silent.waitClosed(), 4004);
  });

  it("closes with 4005 when the client does not offer chatcluster.v1", async () => {
    const h = await edge();
    const c = await TestClient.open(h.url, { protocol: null });
    assert.equal(await c.waitClosed(), 4005);
  });

  it("answers frames before welcome with not_authenticated", async () => {
    const h = await edge();
    const c = await TestClient.open(h.url);
    c.send({ type: "join", room: "lobby" });
    const e = await c.next("error");
    assert.equal(e.code, "not_authenticated");
    assert.equal(e.id, "lobby");
    c.ws.close();
  });

  it("closes with 4002 token_expired when the principal expires", async () => {
    const h = await edge({ heartbeatMs: 200 });
    const c = await TestClient.open(h.url);
    c.send({ type: "auth", token: "expiring:al:100" });
    await c.next("welcome");
    assert.equal(await c.waitClosed(), 4002);
  });

  it("refreshes the token of an open connection: a new welcome, or a close when refused", async () => {
    const h = await edge();
    const a = await authed(h.url, "alice");
    a.send({ type: "auth", token: "user:alice2" });
    assert.equal((await a.next("welcome")).user, "alice2");
    a.send({ type: "auth", token: "bad" });
    assert.equal((await a.next("error")).code, "unauthorized");
    assert.equal(await a.waitClosed(), 4001);
  });

  it("closes with 4013 overloaded when logic cannot take the auth", async () => {
    const h = await edge();
    h.link.accepting = false;
    const c = await TestClient.open(h.url);
    c.send({ type: "auth", token: "user:a" });
    assert.equal(await c.waitClosed(), 4013);
  });
});

describe("edge: rooms and messages", () => {
  it("a failed resume keeps the room; a failed first join does not", async () => {
    const h = await edge();
    const a = await authed(h.url, "alice");
    const b = await authed(h.url, "bob");
    a.send({ type: "join", room: "lobby" });
    await a.next("joined");
    b.send({ type: "join", room: "lobby" });
    await b.next("joined");
    h.link.failJoins = true;
    a.send({ type: "join", room: "lobby", since: 0 });
    assert.equal((await a.next("error")).code, "unavailable");
    a.send({ type: "join", room: "other" });
    assert.equal((await a.next("error")).code, "unavailable");
    h.link.failJoins = false;
    b.send({ type: "send", room: "lobby", id: "x1", body: 1 });
    await b.next("ack");
    assert.equal((await a.next("message")).seq, 1, "still a member of lobby after the failed resume");
    assert.ok(!h.link.interest.has("other"), "the failed first join left no membership");
  });

  it("join, send, ack, message fan-out, history with since, leave", async () => {
    const h = await edge();
    const a = await authed(h.url, "alice");
    const b = await authed(h.url, "bob");
    a.send({ type: "join", room: "lobby" });
    b.send({ type: "join", room: "lobby" });
    const ja = await a.next("joined");
    assert.deepEqual(ja, { type: "joined", room: "lobby", last_seq: 0, complete: true, messages: [] });
    await b.next("joined");
    assert.ok(h.link.interest.has("lobby"));
    a.send({ type: "send", room: "lobby", id: "m1", body: { text: "hi" } });
    assert.deepEqual(await a.next("ack"), { type: "ack", id: "m1", room: "lobby", seq: 1 });
    for (const c of [a, b]) {
      const m = await c.next("message");
      assert.deepEqual(
        { ...m, ts: 0 },
        {
          type: "message",
          room: "lobby",
          seq: 1,
          prev: 0,
          id: "m1",
          from: "alice",
          ts: 0,
          body: { text: "hi" },
        },
      );
    }
    // The same client id again: acked with the same seq, not delivered twice.
    a.send({ type: "send", room: "lobby", id: "m1", body: { text: "hi" } });
    assert.equal((await a.next("ack")).seq, 1);
    a.send({ type: "send", room: "lobby", id: "m2", body: "two" });
    await a.next("ack");
    await b.next("message");
    const c = await authed(h.url, "carol");
    c.send({ type: "join", room: "lobby", since: 1 });
    const jc = await c.next("joined");
    assert.equal(jc.last_seq, 2);
    assert.deepEqual(
      jc.messages.map((m) => [m.seq, m.prev, m.body]),
      [[2, 1, "two"]],
    );
    b.send({ type: "leave", room: "lobby" });
    await new Promise((r) => setTimeout(r, 50));
    a.send({ type: "send", room: "lobby", id: "m3", body: 3 });
    assert.equal((await c.next("message")).seq, 3);
    assert.equal((await a.next("message")).seq, 2);
    assert.equal((await a.next("message")).seq, 3);
    assert.equal(b.frames.filter((f) => f.type === "message").length, 0);
    b.send({ type: "leave", room: "lobby" });
    assert.equal((await b.next("error")).code, "not_joined");
    for (const x of [a, b, c]) x.ws.close();
    await Promise.all([a.closed, b.closed, c.closed]);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.link.interest.has("lobby"), false, "interest removed with the last member");
    assert.equal(h.link.counts.closed, 3, "logic told about each closed connection");
  });

  it("answers a forbidden join with the error frame logic built", async () => {
    const h = await edge();
    const a = await authed(h.url);
    a.send({ type: "join", room: "private.x" });
    const e = await a.next("error");
    assert.equal(e.code, "forbidden");
    assert.equal(e.id, "private.x");
    a.ws.close();
  });

  it("drops live deliveries at or below the join's last_seq", async () => {
    const h = await edge();
    h.link.publish("r", "sys", "p1", "1");
    h.link.publish("r", "sys", "p2", "2");
    const a = await authed(h.url);
    a.send({ type: "join", room: "r", since: 0 });
    assert.equal((await a.next("joined")).last_seq, 2);
    const stale = encodeMessageFrame({
      room: "r",
      seq: 2,
      prev: 1,
      id: "p2",
      from: "sys",
      ts: 1,
      bodyJson: "2",
    });
    const fresh = encodeMessageFrame({
      room: "r",
      seq: 3,
      prev: 2,
      id: "p3",
      from: "sys",
      ts: 1,
      bodyJson: "3",
    });
    h.edge.deliver([
      create(DeliverySchema, { room: "r", seq: 2n, payload: stale }),
      create(DeliverySchema, { room: "r", seq: 3n, payload: fresh }),
    ]);
    assert.equal((await a.next("message")).seq, 3);
    assert.equal(a.frames.length, 0);
    a.ws.close();
  });

  it("sends a member a message delivered twice once, alone or in a run", async () => {
    const h = await edge();
    const a = await authed(h.url);
    a.send({ type: "join", room: "r", since: 0 });
    assert.equal((await a.next("joined")).last_seq, 0);
    const msg = (seq: number) =>
      create(DeliverySchema, {
        room: "r",
        seq: BigInt(seq),
        payload: encodeMessageFrame({
          room: "r",
          seq,
          prev: seq - 1,
          id: `d${seq}`,
          from: "sys",
          ts: 1,
          bodyJson: "1",
        }),
      });
    // A send resent to another logic process during a roll: both deliver it.
    h.edge.deliver([msg(1)]);
    h.edge.deliver([msg(1)]);
    h.edge.deliver([msg(1), msg(2), msg(3)]);
    h.edge.deliver([msg(2), msg(3), msg(4)]);
    for (const seq of [1, 2, 3, 4]) assert.equal((await a.next("message")).seq, seq);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(a.frames.filter((f) => f.type === "message").length, 0, "no message twice");
    a.ws.close();
  });

  it("answers ping with pong echoing ts", async () => {
    const h = await edge();
    const a = await TestClient.open(h.url);
    a.send({ type: "ping", ts: 42 });
    assert.deepEqual(await a.next("pong"), { type: "pong", ts: 42 });
    a.ws.close();
  });

  it("answers send with a retryable unavailable error when logic cannot take it", async () => {
    const h = await edge();
    const a = await authed(h.url);
    h.link.accepting = false;
    a.send({ type: "send", room: "r", id: "x1", body: 1 });
    const e = await a.next("error");
    assert.equal(e.code, "unavailable");
    assert.equal(e.id, "x1");
    assert.ok((e.retry_after_ms ?? 0) > 0);
    a.ws.close();
  });

  it("hints a retry that grows with logic's backlog, jittered so that refused clients spread out", async () => {
    const h = await edge();
    const a = await authed(h.url);
    h.link.accepting = false;
    const hints = async (backlogMs: number) => {
      h.link.backlog = backlogMs;
      const out: number[] = [];
      for (let i = 0; i < 12; i++) {
        a.send({ type: "send", room: "r", id: `b${backlogMs}-${i}`, body: 1 });
        out.push((await a.next("error")).retry_after_ms ?? 0);
      }
      return out;
    };
    const calm = await hints(0);
    const backed = await hints(3000);
    // Twice the backlog (at least 500 ms of it), over [0.5, 1.5) of that.
    for (const x of calm) assert.ok(x >= 500 && x < 1500, `hint ${x} with no backlog`);
    for (const x of backed) assert.ok(x >= 3000 && x < 9000, `hint ${x} with 3 s of backlog`);
    assert.ok(new Set(backed).size > 6, `hints differ: ${backed.join(",")}`);
    a.ws.close();
  });
});

describe("edge: bad input", () => {
  it("closes 4000 on malformed JSON, a non-object, and a binary frame", async () => {
    const h = await edge();
    for (const bad of ["{nope", "[1,2]", Buffer.from([1, 2, 3])]) {
      const a = await authed(h.url);
      a.ws.send(bad);
      assert.equal(await a.waitClosed(), 4000, `for ${String(bad)}`);
    }
  });

  it("answers unknown types and wrong field types with error frames and stays open", async () => {
    const h = await edge();
    const a = await authed(h.url);
    a.send({ type: "shout" });
    assert.equal((await a.next("error")).code, "unknown_type");
    a.send({ type: "send", room: "r", id: "i1" });
    assert.deepEqual(await a.next("error"), {
      type: "error",
      code: "invalid_field",
      message: "send.body is required",
      id: "i1",
    });
    a.send({ type: "join", room: "bad room*" });
    assert.equal((await a.next("error")).code, "invalid_field");
    a.send({ type: "join", room: "r", since: -1 });
    assert.equal((await a.next("error")).code, "invalid_field");
    a.send({ type: "send", room: "r", id: 7, body: 1 });
    assert.equal((await a.next("error")).code, "invalid_field");
    a.send({ type: "ping" });
    await a.next("pong");
    a.ws.close();
  });

  it("answers a send whose body nests too deep for JSON.stringify with invalid_field and stays up", async () => {
    const h = await edge();
    const a = await authed(h.url);
    const bystander = await authed(h.url, "bob");
    const deep = `${"[".repeat(30_000)}${"]".repeat(30_000)}`;
    a.ws.send(`{"type":"send","room":"r","id":"deep","body":${deep}}`);
    assert.deepEqual(await a.next("error"), {
      type: "error",
      code: "invalid_field",
      message: "send.body is nested too deeply",
      id: "deep",
    });
    a.send({ type: "ping" });
    await a.next("pong");
    bystander.send({ type: "ping" });
    await bystander.next("pong");
    a.ws.close();
    bystander.ws.close();
  });

  it("closes 1009 on a frame above max_frame_bytes", async () => {
    const h = await edge({ maxFrameBytes: 1024 });
    const a = await authed(h.url);
    a.send({ type: "send", room: "r", id: "big", body: "x".repeat(2000) });
    assert.equal(await a.waitClosed(), 1009);
  });

  it("rate limits: error with retry_after_ms, then 4008 on sustained abuse", async () => {
    const h = await edge({ messagesPerSecond: 5, messageBurst: 5, rateStrikes: 10 });
    const a = await authed(h.url);
    for (let i = 0; i < 7; i++) a.send({ type: "ping" });
    // Refused frames are named, so a client knows which send or join to retry.
    a.send({ type: "send", room: "r", id: "over-1", body: 1 });
    a.send({ type: "join", room: "over.room" });
    const named: [string, string | undefined][] = [];
    while (named.length < 2) {
      const e = await a.next("error");
      assert.equal(e.code, "rate_limited");
      assert.ok((e.retry_after_ms ?? 0) > 0);
      if (e.id !== undefined) named.push([e.code, e.id]);
    }
    assert.deepEqual(named, [
      ["rate_limited", "over-1"],
      ["rate_limited", "over.room"],
    ]);
    for (let i = 0; i < 30; i++) a.send({ type: "ping" });
    assert.equal(await a.waitClosed(), 4008);
  });

  it("terminates a client that stops answering pings", async () => {
    const h = await edge({ heartbeatMs: 200 });
    const a = await authed(h.url);
    const live = await authed(h.url);
    // Stop reading: no pong goes back.
    (a.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(h.edge.stats().connections, 1);
    assert.equal(live.ws.readyState, live.ws.OPEN);
    const text = await h.registry.metrics();
    assert.match(text, /chatcluster_gateway_disconnects_total\{code="heartbeat_timeout"\} 1/);
    live.ws.close();
  });
});

describe("edge: admission", () => {
  it("survives a close reply with a code ws cannot send and an over-long reason", async () => {
    const h = await edge();
    const a = await authed(h.url);
    const b = await authed(h.url);
    assert.equal(h.edge.stats().connections, 2);
    // Connection ids are small integers on a fresh edge: address the first ten.
    h.edge.reply(
      Array.from({ length: 10 }, (_, i) => i + 1).map((id) =>
        create(ReplySchema, {
          connectionId: id,
          kind: { case: "close", value: { closeCode: id % 2 === 0 ? 1006 : 4003, reason: "é".repeat(200) } },
        }),
      ),
    );
    await Promise.all([a.waitClosed(), b.waitClosed()]);
    for (let i = 0; i < 100 && h.edge.stats().connections > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(h.edge.stats().connections, 0);
  });

  it("refuses upgrades above max connections with 503 and Retry-After", async () => {
    const h = await edge({ maxConnections: 2 });
    const a = await authed(h.url);
    const b = await authed(h.url);
    const r = await upgradeStatus(h.port);
    assert.equal(r.status, 503);
    assert.equal(r.reason, "max_connections");
    const plain = await fetch(`http://127.0.0.1:${h.port}/`);
    assert.equal(plain.status, 426);
    assert.ok(Number(r.retryAfter) >= 1);
    a.ws.close();
    b.ws.close();
  });

  it("refuses upgrades while too many connections wait for auth", async () => {
    const h = await edge({ maxPendingAuth: 2 });
    const a = await TestClient.open(h.url);
    const b = await TestClient.open(h.url);
    const r = await upgradeStatus(h.port);
    assert.equal(r.status, 503);
    assert.equal(r.reason, "pending_auth");
    a.send({ type: "auth", token: "user:a" });
    await a.next("welcome");
    assert.equal((await upgradeStatus(h.port)).status, 101, "an answered auth frees its slot");
    b.ws.close();
    a.ws.close();
  });

  it("refuses upgrades above the admission rate with 503 and a Retry-After hint", async () => {
    const h = await edge({ admissionPerSecond: 1, admissionBurst: 2 });
    assert.equal((await upgradeStatus(h.port)).status, 101);
    assert.equal((await upgradeStatus(h.port)).status, 101);
    const r = await upgradeStatus(h.port);
    assert.equal(r.status, 503);
    assert.equal(r.reason, "rate");
    assert.ok(Number(r.retryAfter) >= 1);
    const text = await h.registry.metrics();
    assert.match(text, /chatcluster_gateway_admission_refusals_total\{reason="rate"\} 1/);
  });
});

describe("edge: drain", () => {
  it("fails readiness, refuses upgrades, hints reconnects within the window, closes the rest with 4012", async () => {
    const h = await edge({ closeGraceMs: 500 });
    assert.equal(h.edge.notReadyReason(), null);
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => authed(h.url, `u${i}`)));
    const done = h.edge.drain(600);
    assert.equal(h.edge.notReadyReason(), "draining");
    assert.equal(h.link.draining, true);
    assert.equal((await upgradeStatus(h.port)).status, 503);
    for (const c of clients) {
      const r = await c.next("reconnect");
      assert.ok(r.after_ms >= 0 && r.after_ms < 600, `after_ms ${r.after_ms}`);
    }
    // Half of the clients follow the hint; the others stay and are closed at the end.
    for (const c of clients.slice(0, 10)) c.ws.close(1000);
    await done;
    for (const c of clients.slice(10)) assert.equal(await c.waitClosed(), 4012);
    assert.equal(h.edge.stats().connections, 0);
  });
});
