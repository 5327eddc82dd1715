// The one contract test suite every MessageStore implementation runs.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { MessageStore } from "../message-store.ts";
import { StoreError } from "../store-error.ts";
import type { WriterSpec } from "./append-writer.ts";
import { eventually, until } from "./eventually.ts";

export interface StoreFixture {
  /** A new handle on the same backing data (reopening it is the durability test). */
  open(): Promise<MessageStore>;
  /** Data dir or connection for child writers; absent: the store is private to one handle. */
  writerSpec?(room: string, writer: string, count: number): WriterSpec;
  /**
   * Makes the backend unreachable (the contract then waits until the store
   * notices), then brings it back with its data.
   */
  outage?: { begin(): Promise<void>; end(): Promise<void> };
  /**
   * A store whose idempotency window is shortened to windowMs, for the
   * guarantee every store gives: a resend within the window is stored once.
   * (JetStream: its stream's duplicate window; SQLite keeps every id as long
   * as the message, which holds for any window.)
   */
  shortWindow?: { readonly windowMs: number; open(): Promise<MessageStore> };
  /** Whether data outlives the handle (false only for the in-memory test store). */
  readonly durable: boolean;
  /** A reason to report the suite as skipped (only `make test-unit` for external components). */
  readonly skip?: string | false;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

const WRITER = fileURLToPath(new URL("./append-writer.ts", import.meta.url));
let roomCounter = 0;
const freshRoom = (what: string): string => `t.${what}.${process.pid}.${Date.now()}.${roomCounter++}`;
const body = (n: number): string => JSON.stringify({ text: `m${n}`, n });

export function messageStoreContract(name: string, fixture: StoreFixture): void {
  describe(`MessageStore contract: ${name}`, { skip: fixture.skip ?? false }, () => {
    let store: MessageStore;
    before(async () => {
      await fixture.setup?.();
      store = await fixture.open();
    });
    after(async () => {
      await store?.close();
      await fixture.teardown?.();
    });

    it("assigns gap-free seq and prev in append order, also for concurrent appends", async () => {
      const room = freshRoom("order");
      const first = await store.append(room, { id: "a", from: "u1", body: body(0) });
      assert.deepEqual([first.seq, first.prev, first.duplicate], [1, 0, false]);
      const rest = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          store.append(room, { id: `c${i}`, from: "u1", body: body(i + 1) }),
        ),
      );
      assert.deepEqual(
        rest.map((r) => r.seq).sort((a, b) => a - b),
        Array.from({ length: 40 }, (_, i) => i + 2),
      );
      for (const r of rest) assert.equal(r.prev, r.seq - 1);
      const page = await store.read(room, { since: 0, limit: 100 });
      assert.deepEqual(
        page.messages.map((m) => m.seq),
        Array.from({ length: 41 }, (_, i) => i + 1),
      );
      assert.equal(page.headSeq, 41);
    });

    it("returns the original seq for a duplicate id, per room", async () => {
      const room = freshRoom("dedupe");
      const orig = await store.append(room, { id: "x", from: "u1", body: body(1) });
      await store.append(room, { id: "y", from: "u1", body: body(2) });
      const dup = await store.append(room, { id: "x", from: "u2", body: body(99) });
      assert.deepEqual(dup, { ...orig, duplicate: true });
      assert.equal(dup.from, "u1");
      const other = await store.append(freshRoom("dedupe-other"), { id: "x", from: "u1", body: body(1) });
      assert.deepEqual([other.seq, other.duplicate], [1, false]);
      const page = await store.read(room, { limit: 10 });
      assert.equal(page.headSeq, 2);
      assert.equal(page.messages[0]?.body, body(1));
    });

    const shortWindow = fixture.shortWindow;
    if (shortWindow !== undefined) {
      it("stores a resend within the idempotency window once, however late in the window", async () => {
        const s = await shortWindow.open();
        try {
          const room = freshRoom("window");
          const orig = await s.append(room, { id: "w", from: "u1", body: body(1) });
          await new Promise((r) => setTimeout(r, shortWindow.windowMs * 0.6));
          const dup = await s.append(room, { id: "w", from: "u1", body: body(1) });
          assert.deepEqual(dup, { ...orig, duplicate: true });
          assert.equal((await s.read(room, { limit: 10 })).headSeq, 1);
        } finally {
          await s.close();
        }
      });
    }

    it("pages history by since/limit and reports complete and headSeq", async () => {
      const room = freshRoom("history");
      const empty = await store.read(room, { limit: 10 });
      assert.deepEqual(empty, { messages: [], lastSeq: 0, complete: true, headSeq: 0 });
      for (let i = 1; i <= 25; i++)
        await store.append(room, { id: `h${i}`, from: `u${i % 3}`, body: body(i) });
      const p1 = await store.read(room, { since: 0, limit: 10 });
      assert.deepEqual(
        p1.messages.map((m) => m.seq),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      assert.equal(p1.complete, false);
      assert.equal(p1.headSeq, 25);
      const m5 = p1.messages[4];
      assert.deepEqual(
        { room: m5?.room, seq: m5?.seq, prev: m5?.prev, id: m5?.id, from: m5?.from, body: m5?.body },
        { room, seq: 5, prev: 4, id: "h5", from: "u2", body: body(5) },
      );
      assert.ok(typeof m5?.ts === "number" && m5.ts > 1_600_000_000_000);
      const p2 = await store.read(room, { since: 20, limit: 10 });
      assert.deepEqual(
        p2.messages.map((m) => m.seq),
        [21, 22, 23, 24, 25],
      );
      assert.equal(p2.complete, true);
      const latest = await store.read(room, { limit: 3 });
      assert.deepEqual(
        latest.messages.map((m) => m.seq),
        [23, 24, 25],
      );
      assert.equal(latest.complete, true);
      const beyond = await store.read(room, { since: 25, limit: 10 });
      assert.deepEqual([beyond.messages.length, beyond.complete, beyond.headSeq], [0, true, 25]);
      const mid = await store.read(room, { since: 12, limit: 2 });
      assert.deepEqual(
        mid.messages.map((m) => m.seq),
        [13, 14],
      );
    });

    it("stores edits and deletes in the room's sequence and reads messages as they are now", async () => {
      const room = freshRoom("edits");
      await store.append(room, { id: "m1", from: "u1", body: '"one"' });
      await store.append(room, { id: "m2", from: "u2", body: '"two"' });
      await store.append(room, { id: "m3", from: "u1", body: '"three"' });
      const e1 = await store.append(room, { id: "e1", from: "u1", body: '"one!"', kind: "edit", target: 1 });
      assert.deepEqual([e1.seq, e1.prev, e1.duplicate], [4, 3, false]);
      await store.append(room, { id: "d2", from: "u2", body: "null", kind: "delete", target: 2 });
      await store.append(room, { id: "e1b", from: "u1", body: '"one!!"', kind: "edit", target: 1 });
      // An edit after the delete changes nothing: a delete is final.
      await store.append(room, { id: "e2", from: "u2", body: '"zombie"', kind: "edit", target: 2 });
      const again = await store.append(room, {
        id: "e1",
        from: "u1",
        body: '"one!"',
        kind: "edit",
        target: 1,
      });
      assert.deepEqual([again.seq, again.duplicate], [4, true]);
      const events = await store.read(room, { since: 0, limit: 100 });
      assert.deepEqual(
        events.messages.map((m) => [m.seq, m.kind, m.target, m.body]),
        [
          [1, "message", 0, '"one"'],
          [2, "message", 0, '"two"'],
          [3, "message", 0, '"three"'],
          [4, "edit", 1, '"one!"'],
          [5, "delete", 2, "null"],
          [6, "edit", 1, '"one!!"'],
          [7, "edit", 2, '"zombie"'],
        ],
      );
      const current = await store.read(room, { since: 0, limit: 100, view: "current" });
      assert.deepEqual(
        current.messages.map((m) => [m.seq, m.body, m.edit?.seq, m.edit?.deleted]),
        [
          [1, '"one!!"', 6, false],
          [2, "null", 5, true],
          [3, '"three"', undefined, undefined],
        ],
      );
      assert.deepEqual([current.lastSeq, current.complete, current.headSeq], [7, true, 7]);
      // The current view covers the same range as the events: a page of edits may hold no message.
      const tail = await store.read(room, { since: 3, limit: 2, view: "current" });
      assert.deepEqual([tail.messages.length, tail.lastSeq, tail.complete], [0, 5, false]);
      await assert.rejects(
        store.append(room, { id: "bad", from: "u1", body: "1", kind: "edit" }),
        isStoreError("invalid_argument"),
      );
      const plain = freshRoom("never-edited");
      await store.append(plain, { id: "p1", from: "u1", body: "1" });
      const unedited = await store.read(plain, { limit: 10, view: "current" });
      assert.deepEqual(
        unedited.messages.map((m) => [m.seq, m.body, m.edit]),
        [[1, "1", undefined]],
      );
    });

    it("finds history in a room interleaved with other rooms", async () => {
      const a = freshRoom("mixed-a");
      const b = freshRoom("mixed-b");
      for (let i = 1; i <= 30; i++) {
        await store.append(a, { id: `a${i}`, from: "u", body: body(i) });
        if (i % 3 !== 0) await store.append(b, { id: `b${i}`, from: "u", body: body(i) });
      }
      for (const since of [0, 1, 7, 15, 28, 29]) {
        const page = await store.read(a, { since, limit: 4 });
        assert.deepEqual(
          page.messages.map((m) => m.seq),
          Array.from({ length: Math.min(4, 30 - since) }, (_, i) => since + i + 1),
          `since ${since}`,
        );
      }
    });

    it("rejects invalid input with invalid_argument", async () => {
      for (const room of ["", "a..b", "a.*", "a b", "x>"]) {
        await assert.rejects(
          store.append(room, { id: "i", from: "u", body: "{}" }),
          isStoreError("invalid_argument"),
        );
      }
      await assert.rejects(
        store.append("ok", { id: "", from: "u", body: "{}" }),
        isStoreError("invalid_argument"),
      );
    });

    if (fixture.durable) {
      it("keeps messages across close and reopen", async () => {
        const room = freshRoom("durable");
        const s1 = await fixture.open();
        for (let i = 1; i <= 5; i++) await s1.append(room, { id: `d${i}`, from: "u", body: body(i) });
        await s1.close();
        await assert.rejects(
          s1.append(room, { id: "late", from: "u", body: "{}" }),
          isStoreError("store_closed"),
        );
        const s2 = await fixture.open();
        try {
          const page = await s2.read(room, { since: 0, limit: 10 });
          assert.deepEqual(
            page.messages.map((m) => m.id),
            ["d1", "d2", "d3", "d4", "d5"],
          );
          const dup = await s2.append(room, { id: "d3", from: "u", body: body(3) });
          assert.deepEqual([dup.seq, dup.duplicate], [3, true]);
          const next = await s2.append(room, { id: "d6", from: "u", body: body(6) });
          assert.deepEqual([next.seq, next.prev], [6, 5]);
        } finally {
          await s2.close();
        }
      });
      it("finishes appends already accepted when closed", async () => {
        const room = freshRoom("close");
        const s1 = await fixture.open();
        const pending = Array.from({ length: 200 }, (_, i) =>
          s1.append(room, { id: `p${i}`, from: "u", body: body(i) }),
        );
        await s1.close();
        const results = await Promise.all(pending);
        const s2 = await fixture.open();
        try {
          const page = await s2.read(room, { since: 0, limit: 1000 });
          assert.equal(page.headSeq, 200);
          assert.deepEqual(
            results.map((r) => r.seq).sort((a, b) => a - b),
            page.messages.map((m) => m.seq),
          );
        } finally {
          await s2.close();
        }
      });
    }

    const writerSpec = fixture.writerSpec;
    if (writerSpec !== undefined) {
      it("gives one total order without gaps or duplicates to 3 concurrent writer processes", async () => {
        const room = freshRoom("writers");
        const count = 150;
        const outputs = await Promise.all(
          ["w1", "w2", "w3"].map((w) => runChild(writerSpec(room, w, count))),
        );
        const all = outputs.flatMap((o) => o.results);
        assert.equal(all.length, 3 * count);
        const seqs = all.map((r) => r.seq).sort((a, b) => a - b);
        assert.deepEqual(
          seqs,
          Array.from({ length: 3 * count }, (_, i) => i + 1),
        );
        const page = await store.read(room, { since: 0, limit: 1000 });
        assert.equal(page.messages.length, 3 * count);
        const bySeq = new Map(page.messages.map((m) => [m.seq, m.id]));
        for (const r of all) assert.equal(bySeq.get(r.seq), r.id);
        for (const m of page.messages) assert.equal(m.prev, m.seq - 1);
      });
    }

    const outage = fixture.outage;
    if (outage !== undefined) {
      it("fails with retryable store_unavailable during an outage and loses nothing acknowledged", async () => {
        const room = freshRoom("outage");
        const acked: string[] = [];
        for (let i = 1; i <= 5; i++) {
          await store.append(room, { id: `o${i}`, from: "u", body: body(i) });
          acked.push(`o${i}`);
        }
        await outage.begin();
        // Until the client notices, an append may still meet the backend.
        await until("the store to notice the outage", () =>
          store.read("probe", { limit: 1 }).then(
            () => false,
            () => true,
          ),
        );
        let failure: unknown;
        try {
          await store.append(room, { id: "during", from: "u", body: body(0) });
        } catch (err) {
          failure = err;
        }
        assert.ok(failure instanceof StoreError, `expected StoreError, got ${String(failure)}`);
        assert.equal(failure.code, "store_unavailable");
        assert.equal(failure.retryable, true);
        await assert.rejects(store.read(room, { limit: 10 }), isStoreError("store_unavailable"));
        await outage.end();
        const after = await eventually(() => store.append(room, { id: "o6", from: "u", body: body(6) }), {
          retryIf: (err) => err instanceof StoreError && err.retryable,
        });
        acked.push("o6");
        // Deduplication survives the restart: a resend of an acked message gets its original seq.
        const resent = await store.append(room, { id: "o2", from: "u", body: body(2) });
        assert.deepEqual([resent.seq, resent.duplicate], [2, true]);
        const page = await store.read(room, { since: 0, limit: 20 });
        const ids = page.messages.map((m) => m.id);
        for (const id of acked) assert.ok(ids.includes(id), `acked ${id} lost`);
        assert.deepEqual(
          page.messages.map((m) => m.seq),
          Array.from({ length: page.messages.length }, (_, i) => i + 1),
        );
        assert.equal(after.seq, page.headSeq);
      });
    }
  });
}

function isStoreError(code: string): (err: unknown) => boolean {
  return (err) => err instanceof StoreError && err.code === code;
}

function runChild(spec: WriterSpec): Promise<{ results: { id: string; seq: number }[] }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [WRITER, JSON.stringify(spec)],
      { timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`writer ${spec.writer} failed: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as { results: { id: string; seq: number }[] });
      },
    );
  });
}
