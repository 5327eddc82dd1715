import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startHooksExample } from "../../dev/hooks-example.ts";
import { type StackFixture, startStackFixture } from "../../logic/src/testing/stack-fixture.ts";
import {
  ChatClient,
  ChatClientError,
  type ClientState,
  type DisconnectFrame,
  type MessageFrame,
  type SubscribedFrame,
} from "./index.ts";

async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The SDK's edit(), delete(), call() and the server's connection commands, against real processes. */
describe("ChatClient: edits, deletes, calls and server commands with real gateway and logic processes", () => {
  let hooks: Awaited<ReturnType<typeof startHooksExample>>;
  let f: StackFixture;
  const clients: ChatClient[] = [];

  before(async () => {
    hooks = await startHooksExample("127.0.0.1", 0);
    f = await startStackFixture({ logicArgs: [`--hooks-url=${hooks.url}`, "--hook-rpc-methods=dice.*"] });
  });
  after(async () => {
    for (const c of clients) c.close();
    await f?.stop();
    await hooks?.close();
  });

  async function open(user: string, gateway: number) {
    const token = await f.token(user);
    const c = new ChatClient({
      url: f.stack.gatewayUrls[gateway] as string,
      token,
      backoff: { initialMs: 50, maxMs: 200 },
    });
    clients.push(c);
    const got: MessageFrame[] = [];
    const states: ClientState[] = [];
    c.on("message", (m) => got.push(m));
    c.on("state", (s) => states.push(s.state));
    return { c, got, states };
  }

  it("edits and deletes the user's own messages; members get each as an event of the room", async () => {
    const room = "sdk.edits";
    const alice = await open("alice", 0);
    const bob = await open("bob", 1);
    alice.c.join(room);
    bob.c.join(room);
    alice.c.connect();
    bob.c.connect();
    await until("both open", () => alice.c.state === "open" && bob.c.state === "open");
    const sent = await alice.c.send(room, { text: "helo" });
    const edited = await alice.c.edit(room, sent.seq, { text: "hello" });
    assert.equal(edited.seq, sent.seq + 1, "an edit takes the next seq of the room");
    const deleted = await alice.c.delete(room, sent.seq);
    assert.equal(deleted.seq, sent.seq + 2);
    await until("bob has the three events", () => bob.got.length === 3);
    assert.deepEqual(
      bob.got.map((m) => [m.seq, m.kind, m.target, m.body]),
      [
        [sent.seq, undefined, undefined, { text: "helo" }],
        [edited.seq, "edit", sent.seq, { text: "hello" }],
        [deleted.seq, "delete", sent.seq, null],
      ],
    );
    const other = await bob.c.send(room, "mine");
    await assert.rejects(alice.c.edit(room, other.seq, "not yours"), (err: unknown) => {
      assert.ok(err instanceof ChatClientError);
      assert.equal(err.code, "rejected");
      assert.match(err.message, /forbidden/);
      return true;
    });
    await assert.rejects(alice.c.delete(room, sent.seq), /not_found/, "already deleted");
  });

  it("calls the team's backend and gets the answer alone; a method not enabled is refused", async () => {
    const carol = await open("carol", 0);
    carol.c.connect();
    await until("open", () => carol.c.state === "open");
    const answer = (await carol.c.call("dice.roll", { sides: 6 })) as { roll: number };
    assert.ok(Number.isInteger(answer.roll) && answer.roll >= 1 && answer.roll <= 6, JSON.stringify(answer));
    await assert.rejects(carol.c.call("admin.wipe"), (err: unknown) => {
      assert.ok(err instanceof ChatClientError);
      assert.equal(err.code, "rejected");
      assert.match(err.message, /not_found/);
      return true;
    });
  });

  it("follows a room the backend subscribed it to, and stops for good when banned", async () => {
    const room = "sdk.subscribed";
    const dan = await open("dan", 1);
    const subscribed: SubscribedFrame[] = [];
    const told: DisconnectFrame[] = [];
    const errors: string[] = [];
    dan.c.on("subscribed", (s) => subscribed.push(s));
    dan.c.on("disconnect", (d) => told.push(d));
    dan.c.on("error", (e) => errors.push(e.code));
    dan.c.connect();
    await until("open", () => dan.c.state === "open");
    await f.reachable("dan", 1);
    const api = f.api(0);
    await api.publish(
      { room, id: "before", body: { kind: { case: "stringValue", value: "before" } } },
      f.auth,
    );
    const sub = await api.subscribe({ user: "dan", room }, f.auth);
    assert.equal(sub.gateways, 1);
    await until("subscribed", () => subscribed.length === 1);
    assert.equal(subscribed[0]?.last_seq, Number(sub.lastSeq));
    await api.publish({ room, id: "after", body: { kind: { case: "stringValue", value: "after" } } }, f.auth);
    await until("the message after the subscription", () => dan.got.length === 1);
    assert.deepEqual([dan.got[0]?.id, dan.got[0]?.body], ["after", "after"]);
    assert.equal(dan.c.lastSeq(room), Number(sub.lastSeq) + 1);

    await api.ban({ user: "dan", reason: "spam" }, f.auth);
    await until("closed", () => dan.c.state === "closed");
    assert.deepEqual(told, [{ type: "disconnect", code: 4007, reason: "spam", reconnect: false }]);
    assert.ok(errors.includes("disconnected"), errors.join());
    assert.ok(!dan.states.includes("reconnecting"), `no reconnect: ${dan.states.join()}`);
  });
});
