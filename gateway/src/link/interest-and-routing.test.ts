import assert from "node:assert/strict";
import { test } from "node:test";
import { InterestTracker } from "./interest-tracker.ts";
import { hashString, rendezvousPick } from "./rendezvous.ts";

test("interest deltas coalesce add+remove within a tick and version by one", () => {
  const t = new InterestTracker();
  t.add("a");
  t.add("b");
  t.remove("b");
  assert.deepEqual(t.takeDelta(), { added: ["a"], removed: [], version: 1n });
  assert.equal(t.takeDelta(), undefined);
  t.remove("a");
  t.add("a");
  assert.equal(t.takeDelta(), undefined, "remove then add of a published room is no change");
  t.remove("a");
  t.add("c");
  assert.deepEqual(t.takeDelta(), { added: ["c"], removed: ["a"], version: 2n });
  assert.deepEqual(t.snapshot(), { rooms: ["c"], version: 2n });
});

test("rendezvous: same answer everywhere, and a leaving candidate moves only its keys", () => {
  const c = (id: string) => ({ id, idHash: hashString(id) });
  const all = ["logic-0", "logic-1", "logic-2", "logic-3"].map(c);
  const keys = Array.from({ length: 2000 }, (_, i) => `room-${i}`);
  const before = new Map(keys.map((k) => [k, rendezvousPick(k, all)?.id]));
  const shuffled = [...all].reverse();
  for (const k of keys)
    assert.equal(rendezvousPick(k, shuffled)?.id, before.get(k), "order of candidates matters");
  const counts = new Map<string, number>();
  for (const id of before.values()) counts.set(id as string, (counts.get(id as string) ?? 0) + 1);
  for (const n of counts.values()) assert.ok(n > 350 && n < 650, `uneven spread: ${[...counts.values()]}`);
  const without = all.filter((x) => x.id !== "logic-2");
  for (const k of keys) {
    const now = rendezvousPick(k, without)?.id;
    if (before.get(k) !== "logic-2") assert.equal(now, before.get(k), `${k} moved though its owner stayed`);
  }
  assert.equal(rendezvousPick("x", []), undefined);
});
