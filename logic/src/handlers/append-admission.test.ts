import assert from "node:assert/strict";
import { test } from "node:test";
import { AppendAdmission } from "./append-admission.ts";

const T = 50;

test("a sojourn above the target is tolerated until it has lasted 4 targets; then sends are shed until one is fast again", () => {
  const a = new AppendAdmission({ targetMs: T, random: () => 0.5 });
  a.begin("r1", 0);
  a.begin("r2", 0);
  a.begin("r3", 0);
  a.end("r1", 0, 80); // above target: starts the interval
  assert.equal(a.admit("x", 100), undefined, "a burst is not a standing queue");
  a.end("r2", 0, 80 + 4 * T); // still above, a whole interval later
  const shed = a.admit("x", 300);
  assert.equal(shed?.scope, "process");
  assert.equal(shed?.retryAfterMs, 2 * (4 * T + 80), "twice the delay measured (no jitter at 0.5)");
  a.begin("r4", 300);
  a.end("r4", 300, 310); // under target
  assert.equal(a.admit("x", 311), undefined, "one fast append ends the shedding");
  a.end("r3", 0, 400);
});

test("shedding ends when nothing is left in flight", () => {
  const a = new AppendAdmission({ targetMs: T });
  a.begin("r", 0);
  a.begin("r", 0);
  a.end("r", 0, 100);
  a.end("r", 0, 100 + 4 * T);
  assert.equal(a.inFlight, 0);
  assert.equal(a.admit("r", 400), undefined);
});

test("a room whose oldest append is older than 5 targets refuses its own sends only", () => {
  const a = new AppendAdmission({ targetMs: T, random: () => 0.5 });
  a.begin("hot", 0);
  a.begin("hot", 10);
  a.begin("cold", 240);
  assert.equal(a.admit("hot", 5 * T), undefined, "at the limit");
  assert.deepEqual(a.admit("hot", 5 * T + 1), { scope: "room", retryAfterMs: 2 * (5 * T + 1) });
  assert.equal(a.admit("cold", 5 * T + 1), undefined);
  a.end("hot", 0, 260);
  assert.equal(a.admit("hot", 260), undefined, "its oldest append is now the one of t=10");
});

test("hints grow with the delay, stay within [100 ms, 15 s] before jitter, and are jittered over [0.5, 1.5)", () => {
  const lo = new AppendAdmission({ targetMs: T, random: () => 0 });
  const hi = new AppendAdmission({ targetMs: T, random: () => 0.999_999 });
  assert.equal(lo.hint(10), 50);
  assert.equal(lo.hint(1000), 1000);
  assert.equal(hi.hint(1000), 3000);
  assert.equal(hi.hint(60_000), 15_000 * 1.5);
  const spread = new Set(Array.from({ length: 50 }, () => new AppendAdmission({ targetMs: T }).hint(500)));
  assert.ok(spread.size > 25, "hints of one delay differ");
});

test("a target of 0 admits everything", () => {
  const a = new AppendAdmission({ targetMs: 0 });
  a.begin("r", 0);
  assert.equal(a.admit("r", 1e9), undefined);
});
