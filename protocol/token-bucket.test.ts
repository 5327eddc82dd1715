import assert from "node:assert/strict";
import { test } from "node:test";
import { TokenBucket } from "./token-bucket.ts";

test("a bucket starts full, refuses when empty and says how long until the next token", () => {
  const b = new TokenBucket(10, 3, 1000); // one token per 100 ms
  assert.equal(b.take(1000), true);
  assert.equal(b.take(1000), true);
  assert.equal(b.take(1000), true);
  assert.equal(b.take(1000), false);
  assert.equal(b.waitMs(1000), 100);
  assert.equal(b.waitMs(1040), 60);
  assert.equal(b.take(1099), false);
  assert.equal(b.take(1100), true);
  assert.equal(b.waitMs(1100), 100);
});

test("refill stops at the burst and a clock that goes back takes nothing", () => {
  const b = new TokenBucket(1000, 2, 0);
  assert.equal(b.take(0), true);
  assert.equal(b.take(0), true);
  // Ten seconds idle refill two tokens, not ten thousand.
  assert.equal(b.take(10_000), true);
  assert.equal(b.take(10_000), true);
  assert.equal(b.take(10_000), false);
  assert.equal(b.take(9_000), false, "an earlier time adds no tokens");
  assert.equal(b.waitMs(10_000), 1);
});
