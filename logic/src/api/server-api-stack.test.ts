import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { TestClient } from "../../../gateway/src/edge/testing/test-client.ts";
import type { ServerFrame } from "../../../protocol/client-frames.ts";
import { type StackFixture, startStackFixture } from "../testing/stack-fixture.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (t: string) => fromJson(ValueSchema, { text: t });

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "ok",
    (e: unknown) => (e instanceof ConnectError ? Code[e.code] : String(e)),
  );
}

const types = (c: TestClient) => c.frames.map((f: ServerFrame) => f.type);

describe("server API with real gateway and logic processes", () => {
  let f: StackFixture;
  before(async () => {
    f = await startStackFixture({});
  });
  after(() => f?.stop());

  it("Broadcast: one message to many rooms, each with its own seq; a retry is a duplicate", async () => {
    const api = f.api();
    const a = await f.client("ann", 0);
    const b = await f.client("ben", 1);
    a.send({ type: "join", room: "bc.one" });
    b.send({ type: "join", room: "bc.two" });
    await a.next("joined");
    await b.next("joined");
    await api.publish({ room: "bc.two", body: text("earlier") }, f.auth);
    await b.next("message");
    const r = await api.broadcast(
      { rooms: ["bc.one", "bc.two", "bc.three"], id: "news-1", body: text("hi all") },
      f.auth,
    );
    assert.equal(r.id, "news-1");
    assert.deepEqual(
      r.results.map((x) => [x.room, x.seq, x.prev, x.duplicate, x.error]),
      [
        ["bc.one", 1n, 0n, false, undefined],
        ["bc.two", 2n, 1n, false, undefined],
        ["bc.three", 1n, 0n, false, undefined],
      ],
    );
    const ma = await a.next("message");
    const mb = await b.next("message");
    assert.deepEqual([ma.room, ma.id, ma.from, ma.body], ["bc.one", "news-1", "system", { text: "hi all" }]);
    assert.deepEqual([mb.room, mb.seq], ["bc.two", 2]);
    const again = await api.broadcast({ rooms: ["bc.one"], id: "news-1", body: text("hi all") }, f.auth);
    assert.deepEqual([again.results[0]?.seq, again.results[0]?.duplicate], [1n, true]);
    assert.equal(
      await codeOf(api.broadcast({ rooms: ["ok", "bad room"], body: text("x") }, f.auth)),
      "InvalidArgument",
    );
    assert.equal(
      await codeOf(api.broadcast({ rooms: ["x", "x"], body: text("x") }, f.auth)),
      "InvalidArgument",
    );
  });

  it("Subscribe and Unsubscribe a user's connections on every gateway", async () => {
    const api = f.api(1);
    // carol may not read sub.room herself: the subscription is the server's decision.
    const token = await f.token("carol", { rooms: { read: ["lobby"], write: [] } });
    const c0 = await f.client({ token }, 0);
    const c1 = await f.client({ token }, 1);
    await f.reachable("carol", 2, 1);
    await api.publish({ room: "sub.room", body: text("before") }, f.auth);
    const sub = await api.subscribe({ user: "carol", room: "sub.room" }, f.auth);
    assert.deepEqual([sub.gateways, sub.lastSeq], [2, 1n]);
    for (const c of [c0, c1])
      assert.deepEqual(await c.next("subscribed"), { type: "subscribed", room: "sub.room", last_seq: 1 });
    await api.publish({ room: "sub.room", body: text("after") }, f.auth);
    for (const c of [c0, c1]) {
      const m = await c.next("message");
      assert.deepEqual([m.room, m.seq, m.body], ["sub.room", 2, { text: "after" }]);
    }
    // A resume on the same connection passes although the token does not allow the room.
    c0.send({ type: "join", room: "sub.room", since: 0 });
    const joined = await c0.next("joined");
    assert.deepEqual(
      joined.messages.map((m) => m.seq),
      [1, 2],
    );
    // Another connection of carol's that was not subscribed is refused as ever.
    const c2 = await f.client({ token }, 0);
    c2.send({ type: "join", room: "sub.room" });
    assert.equal((await c2.next("error")).code, "forbidden");

    const one = await api.unsubscribe(
      { user: "carol", room: "sub.room", connection: c1.connectionId },
      f.auth,
    );
    assert.equal(one.gateways, 2, "sent to every gateway with carol; only the named connection acts");
    assert.deepEqual(await c1.next("unsubscribed"), { type: "unsubscribed", room: "sub.room" });
    await api.publish({ room: "sub.room", body: text("only c0") }, f.auth);
    assert.equal((await c0.next("message")).body && "ok", "ok");
    await sleep(300);
    assert.equal(c1.frames.filter((x) => x.type === "message").length, 0, "c1 left the room");
    await api.unsubscribe({ user: "carol", room: "sub.room" }, f.auth);
    await c0.next("unsubscribed");
    assert.equal(await codeOf(api.subscribe({ user: "", room: "x" }, f.auth)), "InvalidArgument");
    assert.equal(
      await codeOf(api.subscribe({ user: "u", room: "x", connection: "nope" }, f.auth)),
      "InvalidArgument",
    );
  });

  it("Disconnect a user everywhere, or one connection, with the code and the reconnect advice", async () => {
    const api = f.api();
    const d0 = await f.client("dora", 0);
    const d1 = await f.client("dora", 1);
    await f.reachable("dora", 2);
    const one = await api.disconnect(
      { user: "dora", connection: d0.connectionId, code: 4100, reason: "moved", reconnect: true },
      f.auth,
    );
    assert.equal(one.gateways, 2);
    assert.deepEqual(await d0.next("disconnect"), {
      type: "disconnect",
      code: 4100,
      reason: "moved",
      reconnect: true,
    });
    assert.equal(await d0.waitClosed(), 4100);
    assert.equal(d0.closeReason, "moved");
    await sleep(200);
    assert.equal(types(d1).includes("disconnect"), false, "the other connection stays");
    await api.disconnect({ user: "dora", reason: "bye" }, f.auth);
    assert.deepEqual(await d1.next("disconnect"), {
      type: "disconnect",
      code: 4006,
      reason: "bye",
      reconnect: false,
    });
    assert.equal(await d1.waitClosed(), 4006);
    assert.equal(await codeOf(api.disconnect({ user: "dora", code: 4001 }, f.auth)), "InvalidArgument");
    assert.deepEqual((await api.disconnect({ user: "nobody-online" }, f.auth)).gateways, 0);
  });

  it("Presence, PresenceStats and Rooms answer from the shared presence table", async () => {
    const api = f.api();
    const users = ["pia", "paul", "pete"];
    const clients = await Promise.all(users.map((u, i) => f.client(u, i % 2)));
    for (const c of clients) c.send({ type: "join", room: "pres.room" });
    for (const c of clients) await c.next("joined");
    const page = await until("three users present", async () => {
      const p = await api.presence({ room: "pres.room", limit: 2 }, f.auth);
      return p.total === 3 ? p : undefined;
    });
    assert.deepEqual([page.users, page.next], [["paul", "pete"], "pete"]);
    const rest = await api.presence({ room: "pres.room", after: page.next, limit: 2 }, f.auth);
    assert.deepEqual([rest.users, rest.next], [["pia"], ""]);
    const stats = await api.presenceStats({ room: "pres.room" }, f.auth);
    assert.deepEqual([stats.users, stats.gateways], [3, 2]);
    const rooms = await api.rooms({ limit: 1000 }, f.auth);
    assert.deepEqual(
      rooms.rooms.find((r) => r.room === "pres.room"),
      { $typeName: "chatcluster.v1.RoomSummary", room: "pres.room", users: 3 },
    );
    assert.ok(rooms.total >= 1);
    assert.equal(await codeOf(api.rooms({ limit: 5000 }, f.auth)), "InvalidArgument");
  });

  it("Info lists the gateways with their connections and versions, and every logic process", async () => {
    await f.client("ivy", 0);
    await f.client("ivan", 1);
    const info = await until("status reports with connections", async () => {
      const i = await f.api(1).info({}, f.auth);
      return i.gateways.every((g) => g.connections > 0) ? i : undefined;
    });
    assert.equal(info.servedBy, "logic-1");
    assert.deepEqual(
      info.gateways.map((g) => [g.id, g.state, g.draining, g.version !== ""]),
      [
        ["gateway-0", "ready", false, true],
        ["gateway-1", "ready", false, true],
      ],
    );
    assert.deepEqual(
      info.logic.map((l) => [l.id, l.gateways, l.version !== ""]),
      [
        ["logic-0", 2, true],
        ["logic-1", 2, true],
      ],
    );
    assert.equal(info.connections, BigInt(info.gateways.reduce((n, g) => n + g.connections, 0)));
  });

  it("Batch runs its commands in order, each with its own result", async () => {
    const api = f.api();
    const e = await f.client("eve", 1);
    await f.reachable("eve", 1);
    const r = await api.batch(
      {
        commands: [
          { command: { case: "subscribe", value: { user: "eve", room: "batch.room" } } },
          { command: { case: "publish", value: { room: "batch.room", id: "b-1", body: text("in order") } } },
          { command: { case: "publish", value: { room: "bad room", body: text("x") } } },
          { command: { case: "disconnect", value: { user: "eve", reason: "done" } } },
        ],
      },
      f.auth,
    );
    assert.deepEqual(
      r.results.map((x) => x.result.case),
      ["subscribe", "publish", "error", "disconnect"],
    );
    const err = r.results[2]?.result;
    assert.equal(err?.case === "error" && err.value.code, "invalid_argument");
    await e.waitClosed();
    assert.deepEqual(
      types(e).filter((t) => t !== "welcome"),
      ["subscribed", "message", "disconnect"],
    );
  });
});
