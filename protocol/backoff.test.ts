import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffCeilingMs, backoffDelayMs } from "./backoff.ts";

const opts = { initialMs: 100, maxMs: 5000 };

test("the ceiling doubles per attempt from initialMs up to maxMs", () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 30, 1000].map((n) => backoffCeilingMs(n, opts)),
    [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000],
  );
  assert.equal(backoffCeilingMs(-1, opts), 100, "a negative attempt counts as the first");
});

test("a delay is full jitter: an integer in [0, ceiling)", () => {
  assert.equal(
    backoffDelayMs(0, opts, () => 0.999),
    99,
  );
  assert.equal(
    backoffDelayMs(3, opts, () => 0.5),
    400,
  );
  assert.equal(
    backoffDelayMs(30, opts, () => 0.999),
    4995,
  );
  assert.equal(
    backoffDelayMs(5, opts, () => 0),
    0,
  );
  for (let i = 0; i < 1000; i++) {
    const d = backoffDelayMs(i % 12, opts);
    assert.ok(Number.isInteger(d) && d >= 0 && d < backoffCeilingMs(i % 12, opts), String(d));
  }
});
