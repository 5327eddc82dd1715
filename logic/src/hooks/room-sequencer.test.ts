import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RoomSequencer } from "./room-sequencer.ts";

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
const tick = () => new Promise((r) => setImmediate(r));

describe("RoomSequencer", () => {
  it("runs a room's continuations in arrival order whatever order the decisions come in", async () => {
    const seq = new RoomSequencer();
    const ran: string[] = [];
    const d = [deferred<string>(), deferred<string>(), deferred<string>()];
    for (const [i, x] of d.entries()) seq.enqueue("r", x.promise, (v) => ran.push(`${i}:${v}`));
    const other = deferred<string>();
    seq.enqueue("other", other.promise, (v) => ran.push(`o:${v}`));
    d[2]?.resolve("c");
    d[1]?.resolve("b");
    other.resolve("x");
    await tick();
    assert.deepEqual(ran, ["o:x"], "the held room waits; another room does not");
    assert.equal(seq.waiting("r"), 3);
    d[0]?.resolve("a");
    await tick();
    assert.deepEqual(ran, ["o:x", "0:a", "1:b", "2:c"]);
    assert.equal(seq.waiting("r"), 0);
  });

  it("bounds each room and skips a rejected decision without stalling the room", async () => {
    const seq = new RoomSequencer(2);
    const ran: number[] = [];
    const a = deferred<number>();
    const b = deferred<number>();
    assert.ok(seq.enqueue("r", a.promise, (v) => ran.push(v)));
    assert.ok(seq.enqueue("r", b.promise, (v) => ran.push(v)));
    assert.equal(
      seq.enqueue("r", Promise.resolve(3), (v) => ran.push(v)),
      false,
    );
    a.reject(new Error("bug"));
    b.resolve(2);
    await tick();
    assert.deepEqual(ran, [2]);
  });
});
