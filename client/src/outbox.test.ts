import assert from "node:assert/strict";
import { test } from "node:test";
import { Outbox } from "./outbox.ts";
import { RetryBudget } from "./retry-budget.ts";

const refusal = (id: string, hint?: number) => ({
  type: "error" as const,
  code: "unavailable",
  message: "server overloaded, retry",
  id,
  ...(hint === undefined ? {} : { retry_after_ms: hint }),
});

test("a refused send is due after the server's hint plus full jitter over a ceiling that doubles per refusal", () => {
  let r = 0;
  const o = new Outbox(10, 10_000, 60_000, () => r);
  void o.add("a", { type: "send", room: "room", body: 1 }).catch(() => {});
  const p = o.get("a");
  assert.ok(p);
  r = 0.999_999;
  o.refuse(refusal("a", 400), 1000);
  assert.equal(p.retryAt, 1000 + 400 + 249, "hint + jitter under 250 ms on the first refusal");
  o.refuse(refusal("a", 400), 1000);
  assert.equal(p.retryAt, 1000 + 400 + 499, "under 500 ms on the second");
  r = 0;
  o.refuse(refusal("a"), 1000);
  assert.equal(p.retryAt, 1000 + 1000, "a refusal without a hint waits about a second");
  assert.deepEqual([...o.overdue(1999)], [], "not before");
  assert.equal([...o.overdue(2000)].length, 1);
  assert.equal(o.nextRetryAt(), 2000);
});

test("clients refused together come back spread out", () => {
  const at = new Set<number>();
  for (let i = 0; i < 100; i++) {
    const o = new Outbox(10, 10_000, 60_000);
    void o.add("a", { type: "send", room: "room", body: 1 }).catch(() => {});
    o.refuse(refusal("a", 1000), 0);
    at.add(o.get("a")?.retryAt ?? -1);
  }
  assert.ok(at.size > 50, `${at.size} distinct retry times of 100`);
});

test("the retry budget allows a ratio of first sends plus a floor per second, up to a maximum", () => {
  const b = new RetryBudget({ ratio: 0.5, minPerSecond: 1, max: 3 }, 0);
  // Starts full.
  assert.ok(b.take(0) && b.take(0) && b.take(0));
  assert.equal(b.take(0), false);
  assert.equal(b.waitMs(0), 1000);
  b.earn(0);
  b.earn(0);
  assert.ok(b.take(0), "two first sends earn one retry");
  assert.equal(b.take(0), false);
  assert.ok(b.take(1000), "and a second brings another");
});
