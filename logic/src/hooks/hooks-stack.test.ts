import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { TestClient } from "../../../gateway/src/edge/testing/test-client.ts";
import type { ServerFrame } from "../../../protocol/client-frames.ts";
import { type StackFixture, sample, startStackFixture } from "../testing/stack-fixture.ts";
import { type HooksFixture, startHooksFixture } from "./testing/hooks-fixture.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const json = (v: { kind: { case: string | undefined } } | undefined): JsonValue =>
  v === undefined ? null : (toJson(ValueSchema, v as never) as JsonValue);

async function acks(c: TestClient, n: number, timeoutMs = 20_000): Promise<string[]> {
  const ids: string[] = [];
  while (ids.length < n) ids.push((await c.next("ack", timeoutMs)).id);
  return ids;
}

async function metricSum(f: StackFixture, name: string, labels: Record<string, string>): Promise<number> {
  let n = 0;
  for (let i = 0; i < f.stack.logic.length; i++) n += sample(await f.metrics("logic", i), name, labels);
  return n;
}

describe("hooks with real gateway and logic processes", () => {
  let hooks: HooksFixture;
  let f: StackFixture;
  /** Sends the hook holds until the test releases them, by message id. */
  const held = new Map<string, () => void>();
  const seenByHook: string[] = [];

  before(async () => {
    hooks = await startHooksFixture({
      connect: (req) => {
        const id = req.identity;
        if (id?.userId === "mallory") return { refuse: { code: "not_welcome", message: "go away" } };
        if (id?.userId === "reader") return { identity: { ...id, $typeName: undefined, write: [] } };
        return {};
      },
      join: (req) =>
        req.room.startsWith("private.")
          ? { refuse: { code: "members_only", message: "ask for an invite" } }
          : { data: fromJson(ValueSchema, { topic: `about ${req.room}`, user: req.user?.userId ?? "" }) },
      send: async (req) => {
        seenByHook.push(req.id);
        const body = json(req.body);
        if (req.room.startsWith("boom.")) throw new ConnectError("rule engine crashed", Code.Internal);
        if (req.room.startsWith("held.")) {
          if (held.has(req.id)) await new Promise<void>((r) => held.set(req.id, r));
          else await sleep(Math.random() * 30);
        }
        if (body === "spam") return { refuse: { code: "moderated", message: "no spam" } };
        if (typeof body === "string" && body.includes("darn"))
          return { body: fromJson(ValueSchema, body.replaceAll("darn", "d***")) };
        return {};
      },
      rpc: async (req) =>
        req.method === "math.sleep"
          ? sleep(3000).then(() => ({}))
          : req.method === "math.add"
            ? {
                result: fromJson(
                  ValueSchema,
                  (json(req.params) as number[]).reduce((a, b) => a + b, 0) as JsonValue,
                ),
              }
            : { error: { code: "bad_math", message: `cannot ${req.method}` } },
    });
    f = await startStackFixture({
      logicArgs: [
        `--hooks-url=${hooks.url}`,
        "--hooks-secret=hook-secret-1",
        "--hook-connect=after",
        "--hook-join-rooms=>",
        "--hook-send-rooms=>",
        "--hook-rpc-methods=math.>",
        "--hook-rpc-timeout=500ms",
        // Long enough for the held send below: it is the test that releases it.
        "--hook-send-timeout=30s",
      ],
    });
  });
  after(async () => {
    for (const release of held.values()) release();
    await f?.stop();
    await hooks?.close();
  });

  it("Connect (after the JWT): refuses one user, narrows another's rights; the secret is sent", async () => {
    const mallory = await f.client("mallory", 0, false);
    const err = await mallory.next("error");
    assert.deepEqual([err.code, err.message], ["not_welcome", "go away"]);
    assert.equal(await mallory.waitClosed(), 4001);
    const reader = await f.client("reader", 1);
    reader.send({ type: "send", room: "lobby", id: "r1", body: "hi" });
    const refused = await reader.next("error");
    assert.deepEqual([refused.code, refused.id], ["forbidden", "r1"]);
    assert.ok(hooks.authorizations.length > 0);
    assert.ok(hooks.authorizations.every((a) => a === "Bearer hook-secret-1"));
  });

  it("Join: refuses with the hook's code and attaches its data to joined", async () => {
    const c = await f.client("alice", 0);
    c.send({ type: "join", room: "private.board" });
    const err = await c.next("error");
    assert.deepEqual([err.code, err.id], ["members_only", "private.board"]);
    c.send({ type: "join", room: "team.eng" });
    const joined = await c.next("joined");
    assert.deepEqual(joined.data, { topic: "about team.eng", user: "alice" });
  });

  it("Send: rewrites the body everyone gets and history keeps, refuses with the hook's code", async () => {
    const bob = await f.client("bob", 1);
    bob.send({ type: "join", room: "hooked.chat" });
    await bob.next("joined");
    const alice = await f.client("alice", 0);
    alice.send({ type: "send", room: "hooked.chat", id: "s1", body: "darn it" });
    alice.send({ type: "send", room: "hooked.chat", id: "s2", body: "spam" });
    assert.deepEqual(await acks(alice, 1), ["s1"]);
    const err = await alice.next("error");
    assert.deepEqual([err.code, err.message, err.id], ["moderated", "no spam", "s2"]);
    const m = await bob.next("message");
    assert.deepEqual([m.id, m.body], ["s1", "d*** it"]);
    const h = await f.api().history({ room: "hooked.chat" }, f.auth);
    assert.deepEqual(
      h.messages.map((x) => [x.id, json(x.body)]),
      [["s1", "d*** it"]],
    );
  });

  it("Rpc: the answer goes to the caller; unmatched methods are not_found", async () => {
    const c = await f.client("carol", 0);
    const other = await f.client("carol", 1);
    c.send({ type: "call", id: "k1", method: "math.add", params: [1, 2, 39] });
    c.send({ type: "call", id: "k2", method: "math.div" });
    c.send({ type: "call", id: "k3", method: "admin.reset" });
    const result = await c.next("result");
    assert.deepEqual([result.id, result.result], ["k1", 42]);
    const errors = [await c.next("error"), await c.next("error")].map((e) => [e.id, e.code]).sort();
    assert.deepEqual(errors, [
      ["k2", "bad_math"],
      ["k3", "not_found"],
    ]);
    await sleep(200);
    assert.equal(other.frames.filter((x: ServerFrame) => x.type === "result").length, 0);
  });

  it("a hook that times out or fails: a retryable unavailable, counted by cause", async () => {
    const c = await f.client("dave", 0);
    const t0 = Date.now();
    c.send({ type: "call", id: "t1", method: "math.sleep" });
    const timedOut = await c.next("error");
    assert.deepEqual([timedOut.code, timedOut.id, timedOut.retry_after_ms], ["unavailable", "t1", 1000]);
    assert.ok(Date.now() - t0 < 2500, `answered at the 500 ms timeout, not after the hook's 3 s`);
    c.send({ type: "send", room: "boom.room", id: "b1", body: 1 });
    const failed = await c.next("error");
    assert.deepEqual([failed.code, failed.id], ["unavailable", "b1"]);
    assert.ok(
      (await metricSum(f, "chatcluster_logic_hook_failures_total", { hook: "rpc", cause: "timeout" })) >= 1,
    );
    assert.ok(
      (await metricSum(f, "chatcluster_logic_hook_failures_total", { hook: "send", cause: "error" })) >= 1,
    );
    const h = await f.api().history({ room: "boom.room" }, f.auth);
    assert.equal(h.messages.length, 0, "a refused message is not stored");
  });

  it("a slow hook under load keeps the room's order and holds no other room", async () => {
    const senders = [
      await f.client("u0", 0),
      await f.client("u1", 1),
      await f.client("u2", 0),
      await f.client("u3", 1),
    ];
    const first = senders[0] as TestClient;
    held.set("h-first", () => {});
    first.send({ type: "send", room: "held.room", id: "h-first", body: "first" });
    const deadline = Date.now() + 10_000;
    while (!seenByHook.includes("h-first")) {
      if (Date.now() > deadline) throw new Error("the hook never saw the first send");
      await sleep(10);
    }
    // The first send is held by the hook; everything after it in that room must wait behind it.
    const perSender = 15;
    for (let i = 0; i < perSender; i++)
      for (const [k, c] of senders.entries())
        c.send({ type: "send", room: "held.room", id: `h-${k}-${i}`, body: i });
    // Other rooms go through the same hook and logic processes meanwhile.
    for (const [k, c] of senders.entries())
      for (let i = 0; i < 10; i++) c.send({ type: "send", room: `free.${k}`, id: `f-${k}-${i}`, body: i });
    for (const c of senders) {
      const got = await acks(c, 10);
      assert.ok(
        got.every((id) => id.startsWith("f-")),
        `free rooms acked while held.room waits: ${got}`,
      );
    }
    while (seenByHook.filter((id) => id.startsWith("h-")).length < 1 + perSender * senders.length)
      await sleep(10);
    await sleep(100);
    assert.equal(
      senders.flatMap((c) => c.frames).filter((x) => x.type === "ack" && x.room === "held.room").length,
      0,
      "nothing in held.room is stored before the held send",
    );
    (held.get("h-first") as () => void)();
    const all = await Promise.all(senders.map((c, k) => acks(c, k === 0 ? perSender + 1 : perSender)));
    assert.equal(all.flat().length, 1 + perSender * senders.length);
    const h = await f.api().history({ room: "held.room", since: 0n, limit: 100 }, f.auth);
    const ids = h.messages.map((m) => m.id);
    assert.equal(ids[0], "h-first", "the held send keeps its place");
    for (let k = 0; k < senders.length; k++) {
      const mine = ids.filter((id) => id.startsWith(`h-${k}-`));
      assert.deepEqual(
        mine,
        Array.from({ length: perSender }, (_, i) => `h-${k}-${i}`),
        `sender ${k}'s sends in the order sent`,
      );
    }
  });
});

describe("hooks: Connect instead of a JWT, over gRPC, with the allow policy", () => {
  let hooks: HooksFixture;
  let f: StackFixture;
  before(async () => {
    hooks = await startHooksFixture({
      connect: (req) =>
        req.token.startsWith("session:")
          ? { identity: { userId: req.token.slice(8), read: [">"], write: [">"] } }
          : { refuse: { code: "bad_session", message: "unknown session" } },
      send: () => {
        throw new ConnectError("rule engine down", Code.Unavailable);
      },
    });
    f = await startStackFixture({
      gateways: 1,
      logic: 1,
      logicArgs: [
        `--hooks-url=${hooks.url}`,
        "--hooks-protocol=grpc",
        "--hook-connect=instead",
        "--hook-send-rooms=>",
        "--hook-send-on-failure=allow",
        "--hook-connect-on-failure=allow",
      ],
    });
  });
  after(async () => {
    await f?.stop();
    await hooks?.close();
  });

  it("decides identities from opaque tokens, and lets sends through while the Send hook fails", async () => {
    const erin = await f.client({ token: "session:erin" });
    const bad = await f.client({ token: "not-a-session" }, 0, false);
    assert.equal((await bad.next("error")).code, "bad_session");
    assert.equal(await bad.waitClosed(), 4001);
    erin.send({ type: "send", room: "lobby", id: "e1", body: { text: "still here" } });
    assert.deepEqual(await acks(erin, 1), ["e1"]);
    const h = await f.api().history({ room: "lobby" }, f.auth);
    assert.deepEqual(
      h.messages.map((m) => [m.from, json(m.body)]),
      [["erin", { text: "still here" }]],
    );
    assert.equal(
      await metricSum(f, "chatcluster_logic_hook_failures_total", { hook: "send", cause: "unavailable" }),
      1,
    );
    // Mode instead has no identity without the hook: a failing Connect hook refuses whatever the policy.
    hooks.impl = { ...hooks.impl, connect: () => ({}) };
    const stuck = await f.client({ token: "session:frank" }, 0, false);
    assert.equal((await stuck.next("error")).code, "unavailable");
    assert.equal(await stuck.waitClosed(), 4013);
  });
});
