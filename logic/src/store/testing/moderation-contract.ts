import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ModerationEntry, ModerationStore } from "../moderation-store.ts";

const entry = (
  kind: "ban" | "token",
  key: string,
  extra: Partial<ModerationEntry> = {},
): ModerationEntry => ({
  kind,
  key,
  untilMs: 0,
  active: true,
  reason: "r",
  atMs: 1,
  ...extra,
});

async function all(s: ModerationStore, cursor = 0) {
  const out: ModerationEntry[] = [];
  let c = cursor;
  for (;;) {
    const page = await s.changes(c);
    out.push(...page.entries);
    if (page.cursor === c) return { entries: out, cursor: c };
    c = page.cursor;
  }
}

/**
 * What every ModerationStore must do. `open` gives a new handle on the same
 * backing data each call (reopening is the durability test).
 */
export function moderationContract(
  name: string,
  open: () => Promise<ModerationStore>,
  durable: boolean,
): void {
  describe(`moderation store: ${name}`, () => {
    it("lists every entry, then only what changed after a cursor; a put replaces its (kind, key)", async () => {
      const s = await open();
      const first = await all(s);
      await s.put(entry("ban", "alice", { untilMs: 5_000, reason: "spam" }));
      await s.put(entry("token", "jti-1"));
      await s.put(entry("ban", "bob"));
      const after = await all(s, first.cursor);
      assert.deepEqual(
        after.entries.map((e) => [e.kind, e.key, e.untilMs, e.active, e.reason]),
        [
          ["ban", "alice", 5_000, true, "spam"],
          ["token", "jti-1", 0, true, "r"],
          ["ban", "bob", 0, true, "r"],
        ],
      );
      assert.deepEqual((await s.changes(after.cursor)).entries, [], "nothing new");
      await s.put(entry("ban", "alice", { active: false, reason: "appeal" }));
      const lifted = await all(s, after.cursor);
      assert.deepEqual(
        lifted.entries.map((e) => [e.key, e.active, e.reason]),
        [["alice", false, "appeal"]],
      );
      await s.close();
    });

    if (durable) {
      it("keeps entries across close and reopen", async () => {
        const s = await open();
        await s.put(entry("ban", "carol", { untilMs: 123 }));
        await s.close();
        const again = await open();
        const seen = (await all(again)).entries.filter((e) => e.key === "carol");
        assert.deepEqual(
          seen.map((e) => [e.kind, e.untilMs, e.active]),
          [["ban", 123, true]],
        );
        await again.close();
      });
    }
  });
}
