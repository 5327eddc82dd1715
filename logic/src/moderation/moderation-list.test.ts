import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "../../../platform/logger.ts";
import type { ModerationEntry, ModerationStore } from "../store/moderation-store.ts";
import { InMemoryModerationForTests } from "../store/testing/memory-moderation.ts";
import { ModerationList } from "./moderation-list.ts";

const log = createLogger("moderation-test", "silent");
const ban = (key: string, extra: Partial<ModerationEntry> = {}): ModerationEntry => ({
  kind: "ban",
  key,
  untilMs: 0,
  active: true,
  reason: "",
  atMs: Date.now(),
  ...extra,
});

/** Counts the store reads and lets a test hold one. */
class CountingStore implements ModerationStore {
  readonly inner = new InMemoryModerationForTests();
  reads = 0;
  hold: Promise<void> | undefined;
  put(e: ModerationEntry) {
    return this.inner.put(e);
  }
  async changes(cursor: number) {
    // Each read starts at the cursor it has (0 here: nothing was found before).
    if (cursor === 0) this.reads++;
    const page = await this.inner.changes(cursor);
    await this.hold;
    return page;
  }
  close() {
    return this.inner.close();
  }
}

describe("ModerationList", () => {
  it("loads what exists without learning it, then learns what others write, once", async () => {
    const store = new InMemoryModerationForTests();
    await store.put(ban("old"));
    const learned: string[] = [];
    const list = new ModerationList(store, log, (e) => learned.push(e.key));
    await list.start();
    try {
      assert.ok(list.banOf("old", Date.now()));
      const mine = ban("mine");
      await store.put(mine);
      list.record(mine);
      await store.put(ban("theirs"));
      await list.fresh();
      assert.deepEqual(learned, ["theirs"], "existing entries and our own writes are not learned");
      assert.ok(list.banOf("theirs", Date.now()));
      await store.put(ban("theirs", { active: false, atMs: Date.now() + 1 }));
      await list.fresh();
      assert.equal(list.banOf("theirs", Date.now()), undefined, "an unban lifts it");
    } finally {
      list.stop();
    }
  });

  it("ends a ban at its expiry and never revokes the empty token id", async () => {
    const store = new InMemoryModerationForTests();
    const list = new ModerationList(store, log);
    const now = Date.now();
    list.record(ban("temp", { untilMs: now + 1000 }));
    list.record({ kind: "token", key: "", untilMs: 0, active: true, reason: "", atMs: now });
    assert.ok(list.banOf("temp", now + 999));
    assert.equal(list.banOf("temp", now + 1000), undefined);
    assert.equal(list.revocationOf("", now), undefined);
    assert.equal(list.count("ban", now), 1);
    list.record(ban("lifted", { active: false }));
    list.record({ kind: "token", key: "t-1", untilMs: now + 5000, active: true, reason: "", atMs: now });
    list.prune(now + 1000);
    assert.equal(list.count("ban", now), 0, "the expired ban and the lifted one are forgotten");
    assert.ok(list.revocationOf("t-1", now + 1000), "a revocation still in force stays");
  });

  it("gives every caller a read that started after its call, sharing reads", async () => {
    const store = new CountingStore();
    const list = new ModerationList(store, log);
    let release: () => void = () => {};
    store.hold = new Promise((r) => {
      release = r;
    });
    const first = list.fresh();
    await new Promise((r) => setImmediate(r));
    // These come while the first read runs: it may have missed their bans; one more read follows for all.
    const during = [list.fresh(), list.fresh(), list.fresh()];
    await store.put(ban("late"));
    store.hold = undefined;
    release();
    await first;
    await Promise.all(during);
    assert.equal(store.reads, 2, "one running read and one queued read");
    assert.ok(list.banOf("late", Date.now()), "the queued read saw the ban written during the first");
  });
});
