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
});
