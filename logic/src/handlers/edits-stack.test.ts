import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fromJson, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { HistoryView, MessageKind } from "../../../gen/chatcluster/v1/chat_api_pb.js";
import type { MessageFrame } from "../../../protocol/client-frames.ts";
import { type NatsServer, startNats } from "../../../testenv/harness/index.ts";
import { type StackFixture, startStackFixture } from "../testing/stack-fixture.ts";

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "ok",
    (e: unknown) => (e instanceof ConnectError ? Code[e.code] : String(e)),
  );
}
const summary = (m: MessageFrame) => [m.seq, m.prev, m.kind ?? "message", m.target ?? 0, m.from, m.body];

for (const store of ["sqlite", "nats"] as const) {
  describe(`edits and deletes with real processes (store=${store})`, () => {
    let f: StackFixture;
    let nats: NatsServer | undefined;
    before(async () => {
      if (store === "nats") nats = await startNats({ name: "edits" });
      f = await startStackFixture({ store, ...(nats ? { natsUrl: nats.url } : {}) });
    });
    after(async () => {
      await f?.stop();
      await nats?.stop();
    });

    it("are events of the room's sequence: live to members, in history, and to a client that resumes later", async () => {
      const room = "edits.room";
      const alice = await f.client("alice", 0);
      const bob = await f.client("bob", 1);
      const carol = await f.client("carol", 1);
      for (const c of [alice, bob, carol]) {
        c.send({ type: "join", room });
        await c.next("joined");
      }
      alice.send({ type: "send", room, id: "a1", body: { text: "helo" } });
      alice.send({ type: "send", room, id: "a2", body: { text: "oops" } });
      for (let i = 0; i < 2; i++) await alice.next("ack");
      for (const c of [bob, carol]) for (let i = 0; i < 2; i++) await c.next("message");
      // carol goes away having seen seq 2.
      carol.ws.close();
      await carol.closed;

      alice.send({ type: "edit", room, id: "a1-fix", target: 1, body: { text: "hello" } });
      assert.deepEqual(await alice.next("ack"), { type: "ack", id: "a1-fix", room, seq: 3 });
      const liveEdit = await bob.next("message");
      assert.deepEqual(summary(liveEdit), [3, 2, "edit", 1, "alice", { text: "hello" }]);
      assert.equal(liveEdit.id, "a1-fix");

      bob.send({ type: "edit", room, id: "b-x", target: 1, body: "mine now" });
      bob.send({ type: "delete", room, id: "b-y", target: 2 });
      const refusals = [await bob.next("error"), await bob.next("error")].map((e) => [e.code, e.id]).sort();
      assert.deepEqual(
        refusals,
        [
          ["forbidden", "b-x"],
          ["forbidden", "b-y"],
        ],
        "only the author may change a message",
      );
      alice.send({ type: "delete", room, id: "a2-del", target: 2 });
      assert.equal((await alice.next("ack")).seq, 4);
      assert.deepEqual(summary(await bob.next("message")), [4, 3, "delete", 2, "alice", null]);
      alice.send({ type: "edit", room, id: "a2-late", target: 2, body: "back?" });
      const gone = await alice.next("error");
      assert.deepEqual([gone.code, gone.id], ["not_found", "a2-late"], "a deleted message stays deleted");
      alice.send({ type: "edit", room, id: "a3", target: 3, body: "an edit of an edit" });
      assert.equal((await alice.next("error")).code, "not_found");

      // The backend may change anyone's message.
      bob.send({ type: "send", room, id: "b1", body: { text: "spam link" } });
      assert.equal((await bob.next("ack")).seq, 5);
      const api = f.api(1);
      const edited = await api.editMessage(
        {
          room,
          seq: 5n,
          from: "moderator",
          id: "mod-1",
          body: fromJson(ValueSchema, { text: "[link removed]" }),
        },
        f.auth,
      );
      assert.deepEqual([edited.seq, edited.prev, edited.id, edited.duplicate], [6n, 5n, "mod-1", false]);
      const again = await api.editMessage(
        {
          room,
          seq: 5n,
          from: "moderator",
          id: "mod-1",
          body: fromJson(ValueSchema, { text: "[link removed]" }),
        },
        f.auth,
      );
      assert.deepEqual([again.seq, again.duplicate], [6n, true]);
      const deleted = await api.deleteMessage({ room, seq: 1n }, f.auth);
      assert.equal(deleted.seq, 7n);
      assert.match(deleted.id, /^[0-9a-f-]{36}$/);
      for (const [seq, why] of [
        [99n, "no such seq"],
        [1n, "deleted"],
        [3n, "an edit, not a message"],
      ] as const)
        assert.equal(
          await codeOf(api.editMessage({ room, seq, body: fromJson(ValueSchema, 1) }, f.auth)),
          "NotFound",
          why,
        );

      // carol comes back and resumes after seq 2: every edit and delete, in order.
      const back = await f.client("carol", 0);
      back.send({ type: "join", room, since: 2 });
      const joined = await back.next("joined");
      assert.deepEqual(joined.messages.map(summary), [
        [3, 2, "edit", 1, "alice", { text: "hello" }],
        [4, 3, "delete", 2, "alice", null],
        [5, 4, "message", 0, "bob", { text: "spam link" }],
        [6, 5, "edit", 5, "moderator", { text: "[link removed]" }],
        [7, 6, "delete", 1, "system", null],
      ]);
      assert.equal(joined.last_seq, 7);

      const events = await api.history({ room, since: 0n }, f.auth);
      assert.deepEqual(
        events.messages.map((m) => [m.seq, m.kind, m.target]),
        [
          [1n, MessageKind.MESSAGE, 0n],
          [2n, MessageKind.MESSAGE, 0n],
          [3n, MessageKind.EDIT, 1n],
          [4n, MessageKind.DELETE, 2n],
          [5n, MessageKind.MESSAGE, 0n],
          [6n, MessageKind.EDIT, 5n],
          [7n, MessageKind.DELETE, 1n],
        ],
      );
      const current = await api.history({ room, since: 0n, view: HistoryView.CURRENT }, f.auth);
      assert.deepEqual(
        current.messages.map((m) => [
          m.seq,
          m.deleted,
          m.editSeq,
          m.body === undefined ? undefined : toJson(ValueSchema, m.body),
        ]),
        [
          [1n, true, 7n, undefined],
          [2n, true, 4n, undefined],
          [5n, false, 6n, { text: "[link removed]" }],
        ],
      );
      assert.deepEqual([current.lastSeq, current.complete, current.headSeq], [7n, true, 7n]);
    });
  });
}
