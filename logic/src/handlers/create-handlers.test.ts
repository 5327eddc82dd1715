import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { SignJWT } from "jose";
import { Registry } from "prom-client";
import {
  type ClientEvent,
  ClientEventSchema,
  type Reply,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { createLogger } from "../../../platform/logger.ts";
import { CLOSE_CODES } from "../../../protocol/index.ts";
import { createAuthenticator } from "../auth/authenticator.ts";
import type { AppendInput, AppendResult, MessageStore } from "../store/message-store.ts";
import { InMemoryStoreForTests } from "../store/testing/memory-store.ts";
import { boundStore } from "./bounded-store.ts";
import { createHandlers } from "./create-handlers.ts";
import { JOIN_PAGE_MAX_BYTES } from "./join-handler.ts";
import { createLogicMetrics } from "./logic-metrics.ts";
import { RecordingFleet } from "./testing/fake-fleet.ts";

const SECRET = "handlers-test-secret-0123456789abcdef";

/** The in-memory store, counting appends. */
class CountingStore extends InMemoryStoreForTests {
  appends = 0;
  override append(room: string, input: AppendInput): Promise<AppendResult> {
    this.appends++;
    return super.append(room, input);
  }
}
const GW = { id: "gw-0", epoch: "e1" };
const enc = new TextEncoder();
const dec = new TextDecoder();

async function setup(
  opts: {
    store?: MessageStore;
    maxInFlight?: number;
    maxQueued?: number;
    now?: () => number;
    limits?: { maxBodyBytes: number; maxHistoryPage: number };
  } = {},
) {
  const store = opts.store ?? new InMemoryStoreForTests();
  const registry = new Registry();
  const metrics = createLogicMetrics(registry);
  const fleet = new RecordingFleet();
  const auth = await createAuthenticator({
    jwtSecret: SECRET,
    jwtSecretFile: "",
    jwtPublicKeyFile: "",
    jwtJwksFile: "",
    jwtIssuer: "",
    jwtAudience: [],
    jwtClockTolerance: 0,
  });
  const bounded = boundStore(
    store,
    { maxInFlight: opts.maxInFlight ?? 64, maxQueued: opts.maxQueued ?? 64 },
    metrics,
  );
  const sink = createHandlers({
    store: bounded,
    fleet,
    auth,
    metrics,
    log: createLogger("logic-test", "silent"),
    limits: opts.limits ?? { maxBodyBytes: 1024, maxHistoryPage: 10 },
    ...(opts.now ? { now: opts.now } : {}),
  });
  let nextId = 1n;
  /** Sends events as one batch and waits for all their replies. */
  const run = async (...evs: MessageInitShape<typeof ClientEventSchema>[]): Promise<Reply[]> => {
    const events: ClientEvent[] = evs.map((e) =>
      create(ClientEventSchema, { eventId: nextId++, connectionId: 7, ...e }),
    );
    const before = fleet.replies.length;
    sink.onEvents(GW, events);
    await fleet.untilReplies(before + events.length);
    return events.map((e) => fleet.replyTo(e.eventId));
  };
  return { store, registry, metrics, fleet, run };
}

const principal = (extra: Record<string, unknown> = {}) => ({
  userId: "alice",
  read: ["lobby", "team.>"],
  write: ["lobby"],
  expiresAtMs: BigInt(Date.now() + 600_000),
  ...extra,
});
const send = (room: string, id: string, body: unknown, p = principal()) => ({
  principal: p,
  kind: { case: "send" as const, value: { room, clientMsgId: id, body: enc.encode(JSON.stringify(body)) } },
});
const join = (room: string, since?: number, limit = 0, p = principal()) => ({
  principal: p,
  kind: {
    case: "join" as const,
    value: { room, limit, ...(since === undefined ? {} : { since: BigInt(since) }) },
  },
});
const frameOf = (r: Reply): Record<string, unknown> => {
  assert.equal(r.kind.case, "frame");
  return JSON.parse(dec.decode(r.kind.value as Uint8Array)) as Record<string, unknown>;
};
const token = (claims: Record<string, unknown>) =>
  new SignJWT({
    sub: "alice",
    exp: Math.floor(Date.now() / 1000) + 600,
    rooms: { read: ["lobby"] },
    ...claims,
  })
    .setProtectedHeader({ alg: "HS256" })
    .sign(enc.encode(SECRET));

describe("handlers", () => {
  it("authenticates: ok with a principal, refusals with code and close code", async () => {
    const { run, registry } = await setup();
    const exp = Math.floor(Date.now() / 1000) + 600;
    const [ok, bad, expired] = await run(
      { kind: { case: "auth", value: { token: await token({ exp }) } } },
      { kind: { case: "auth", value: { token: "garbage" } } },
      { kind: { case: "auth", value: { token: await token({ exp: exp - 1200 }) } } },
    );
    assert.equal(ok?.kind.case, "auth");
    const a = ok?.kind.value as {
      ok: boolean;
      principal: { userId: string; read: string[]; expiresAtMs: bigint };
    };
    assert.deepEqual(
      [a.ok, a.principal.userId, a.principal.read, a.principal.expiresAtMs],
      [true, "alice", ["lobby"], BigInt(exp * 1000)],
    );
    const b = bad?.kind.value as { ok: boolean; errorCode: string; closeCode: number; errorMessage: string };
    assert.deepEqual(
      [b.ok, b.errorCode, b.closeCode],
      [false, "token_malformed", CLOSE_CODES.unauthorized.code],
    );
    const e = expired?.kind.value as { errorCode: string; closeCode: number };
    assert.deepEqual([e.errorCode, e.closeCode], ["token_expired", CLOSE_CODES.tokenExpired.code]);
    const text = await registry.getSingleMetricAsString("chatcluster_logic_auth_results_total");
    assert.match(text, /result="ok",reason="ok"} 1/);
    assert.match(text, /result="error",reason="token_expired"} 1/);
  });

  it("refuses a refreshed token for another user", async () => {
    const { run } = await setup();
    const [r] = await run({
      principal: principal({ userId: "bob" }),
      kind: { case: "auth", value: { token: await token({}), refresh: true } },
    });
    assert.equal((r?.kind.value as { errorCode: string } | undefined)?.errorCode, "subject_mismatch");
  });

  it("stores a send, delivers the message frame once and acks the sender", async () => {
    const { run, fleet } = await setup();
    const body = { text: "héllo", n: [1, 2] };
    const [r] = await run(send("lobby", "m1", body));
    assert.deepEqual(frameOf(r as Reply), { type: "ack", id: "m1", room: "lobby", seq: 1 });
    assert.equal(fleet.deliveries.length, 1);
    const d = fleet.deliveries[0];
    assert.equal(d?.room, "lobby");
    assert.equal(d?.seq, 1n);
    const text = dec.decode(d?.payload);
    // The body bytes are spliced in as sent, not re-serialized.
    assert.ok(text.endsWith(`"body":${JSON.stringify(body)}}`));
    const msg = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(
      { ...msg, ts: 0 },
      {
        type: "message",
        room: "lobby",
        seq: 1,
        prev: 0,
        id: "m1",
        from: "alice",
        ts: 0,
        body,
      },
    );
  });

  it("acks a resent send it stored from its recent sends, without a store call or a second delivery", async () => {
    const counting = new CountingStore();
    const { run, fleet, registry } = await setup({ store: counting });
    await run(send("lobby", "a", 1), send("lobby", "b", 2));
    const appends = counting.appends;
    const [r] = await run(send("lobby", "a", 1));
    assert.deepEqual(frameOf(r as Reply), { type: "ack", id: "a", room: "lobby", seq: 1 });
    assert.equal(counting.appends, appends, "no append for the resend");
    assert.deepEqual(
      fleet.deliveries.map((d) => d.seq),
      [1n, 2n],
      "it was delivered when stored",
    );
    assert.match(
      await registry.getSingleMetricAsString("chatcluster_logic_sends_answered_from_recent_total"),
      / 1$/m,
    );
    const [other] = await run(send("lobby", "a", 1, principal({ userId: "mallory" })));
    assert.equal(frameOf(other as Reply).code, "invalid_field", "another sender's id is not theirs to ack");
  });

  it("acks a resent send another process stored with the original seq and delivers it again", async () => {
    const store = new InMemoryStoreForTests();
    await (await setup({ store })).run(send("lobby", "a", 1), send("lobby", "b", 2));
    // The resend reaches another logic process (the first one died before its ack went out).
    const { run, fleet, registry } = await setup({ store });
    const [r] = await run(send("lobby", "a", 1));
    assert.deepEqual(frameOf(r as Reply), { type: "ack", id: "a", room: "lobby", seq: 1 });
    assert.deepEqual(
      fleet.deliveries.map((d) => d.seq),
      [1n],
      "delivered again: the first process may have died before delivering it",
    );
    assert.match(
      await registry.getSingleMetricAsString("chatcluster_logic_events_total"),
      /kind="send",result="duplicate"} 1/,
    );
    const [other] = await run(send("lobby", "a", 1, principal({ userId: "mallory" })));
    assert.equal(frameOf(other as Reply).code, "invalid_field");
    // A resend with another body is delivered with the stored body, as history has it.
    const third = await setup({ store });
    await third.run(send("lobby", "a", { edited: true }));
    const redelivered = JSON.parse(dec.decode(third.fleet.deliveries.at(-1)?.payload)) as {
      seq: number;
      body: unknown;
    };
    assert.deepEqual([redelivered.seq, redelivered.body], [1, 1]);
  });

  it("refuses forbidden, invalid and oversized sends without storing them", async () => {
    const { run, fleet } = await setup();
    const replies = await run(
      send("team.x", "f1", 1),
      send("bad room", "f2", 1),
      send("lobby", "", 1),
      send("lobby", "big", "x".repeat(2000)),
    );
    assert.deepEqual(
      replies.map((r) => frameOf(r).code),
      ["forbidden", "invalid_field", "invalid_field", "body_too_large"],
    );
    assert.equal(frameOf(replies[0] as Reply).id, "f1");
    assert.equal(fleet.deliveries.length, 0);
  });

  it("closes with token_expired when the principal expired, and unauthorized without one", async () => {
    const now = Date.now();
    const { run, fleet } = await setup({ now: () => now });
    const [expired, none] = await run(send("lobby", "x", 1, principal({ expiresAtMs: BigInt(now - 1) })), {
      kind: { case: "send", value: { room: "lobby", clientMsgId: "y", body: enc.encode("1") } },
    });
    assert.equal(expired?.kind.case, "close");
    assert.equal(
      (expired?.kind.value as { closeCode: number } | undefined)?.closeCode,
      CLOSE_CODES.tokenExpired.code,
    );
    assert.equal(
      (none?.kind.value as { closeCode: number } | undefined)?.closeCode,
      CLOSE_CODES.unauthorized.code,
    );
    assert.equal(fleet.deliveries.length, 0);
  });

  it("answers a join with a joined frame of the page, clamped to the max page", async () => {
    const { run } = await setup();
    for (let i = 1; i <= 15; i++) await run(send("lobby", `j${i}`, { i }));
    const [latest, resumed, forbidden] = await run(join("lobby"), join("lobby", 12, 50), join("secret"));
    assert.equal(latest?.kind.case, "join");
    const l = latest?.kind.value as { ok: boolean; room: string; lastSeq: bigint; frame: Uint8Array };
    assert.deepEqual([l.ok, l.room, l.lastSeq], [true, "lobby", 15n]);
    const lf = JSON.parse(dec.decode(l.frame)) as {
      type: string;
      messages: { seq: number; body: unknown }[];
      complete: boolean;
    };
    assert.equal(lf.type, "joined");
    assert.deepEqual(
      lf.messages.map((m) => m.seq),
      [6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    );
    assert.deepEqual(lf.messages[0]?.body, { i: 6 });
    assert.equal(lf.complete, true);
    const r = resumed?.kind.value as { lastSeq: bigint; frame: Uint8Array };
    assert.equal(r.lastSeq, 15n);
    assert.deepEqual(
      (JSON.parse(dec.decode(r.frame)) as { messages: { seq: number }[] }).messages.map((m) => m.seq),
      [13, 14, 15],
    );
    const f = forbidden?.kind.value as { ok: boolean; frame: Uint8Array };
    assert.equal(f.ok, false);
    assert.equal((JSON.parse(dec.decode(f.frame)) as { code: string }).code, "forbidden");
  });

  it("bounds a join's page in bytes and marks it incomplete, so the rest comes as the next page", async () => {
    const { run } = await setup({ limits: { maxBodyBytes: 200_000, maxHistoryPage: 10 } });
    const big = "x".repeat(100_000);
    for (let i = 1; i <= 6; i++) await run(send("lobby", `b${i}`, { i, big }));
    const pages: number[][] = [];
    let since: number | undefined = 0;
    for (let guard = 0; guard < 10 && since !== undefined; guard++) {
      const [r] = await run(join("lobby", since));
      const v = r?.kind.value as { ok: boolean; lastSeq: bigint; frame: Uint8Array };
      assert.ok(v.ok);
      assert.ok(v.frame.byteLength <= JOIN_PAGE_MAX_BYTES + 1024, `page of ${v.frame.byteLength} bytes`);
      const f = JSON.parse(dec.decode(v.frame)) as { messages: { seq: number }[]; complete: boolean };
      pages.push(f.messages.map((m) => m.seq));
      assert.equal(Number(v.lastSeq), f.messages.at(-1)?.seq ?? since);
      since = f.complete ? undefined : Number(v.lastSeq);
    }
    assert.deepEqual(pages.flat(), [1, 2, 3, 4, 5, 6], "every message once, in order, across pages");
    assert.ok(pages.length >= 3, `split into ${pages.length} pages`);
  });

  it("turns a store outage into retryable errors and keeps the batch going", async () => {
    const store = new InMemoryStoreForTests();
    const { run } = await setup({ store });
    store.setUnavailable(true);
    const [s, j, leave, closed, empty] = await run(
      send("lobby", "o1", 1),
      join("lobby"),
      { principal: principal(), kind: { case: "leave", value: { room: "lobby" } } },
      { kind: { case: "closed", value: { closeCode: 1000 } } },
      {},
    );
    const sf = frameOf(s as Reply);
    assert.deepEqual([sf.code, sf.id], ["unavailable", "o1"]);
    // About a failover, jittered so that refused clients do not come back together.
    const hint = sf.retry_after_ms as number;
    assert.ok(hint >= 500 && hint < 1500, `retry_after_ms ${hint}`);
    const jv = j?.kind.value as { ok: boolean; frame: Uint8Array };
    assert.equal(jv.ok, false);
    assert.equal((JSON.parse(dec.decode(jv.frame)) as { code: string }).code, "unavailable");
    assert.equal(leave?.kind.case, "done");
    assert.equal(closed?.kind.case, "done");
    assert.equal(frameOf(empty as Reply).code, "invalid_field");
    store.setUnavailable(false);
    const [again] = await run(send("lobby", "o1", 1));
    assert.deepEqual(frameOf(again as Reply), { type: "ack", id: "o1", room: "lobby", seq: 1 });
  });

  it("rejects store operations beyond the in-flight and queue bounds as overloaded", async () => {
    const inner = new InMemoryStoreForTests();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow: MessageStore = {
      kind: "memory",
      append: async (room: string, input: AppendInput): Promise<AppendResult> => {
        await gate;
        return inner.append(room, input);
      },
      read: (room, o) => inner.read(room, o),
      setReadMarker: (room, user, seq) => inner.setReadMarker(room, user, seq),
      getReadMarkers: (room, users) => inner.getReadMarkers(room, users),
      close: () => inner.close(),
    };
    const { run, fleet, registry } = await setup({ store: slow, maxInFlight: 2, maxQueued: 1 });
    const done = run(
      send("lobby", "q1", 1),
      send("lobby", "q2", 2),
      send("lobby", "q3", 3),
      send("lobby", "q4", 4),
    );
    await fleet.untilReplies(1);
    assert.deepEqual(frameOf(fleet.replies[0]?.reply as Reply).code, "unavailable");
    release();
    const replies = await done;
    assert.deepEqual(
      replies.map((r) => frameOf(r).type),
      ["ack", "ack", "ack", "error"],
    );
    assert.match(
      await registry.getSingleMetricAsString("chatcluster_logic_store_errors_total"),
      /op="append",code="overloaded"} 1/,
    );
  });
});
