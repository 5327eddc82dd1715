import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { WorkQueue } from "./work-queue.ts";

describe("WorkQueue", () => {
  it("deduplicates keys that are waiting", async () => {
    let adds = 0;
    const q = new WorkQueue({ hooks: { onAdd: () => adds++ } });
    q.add("ns/a");
    q.add("ns/a");
    q.add("ns/b");
    assert.equal(q.length, 2);
    assert.equal(adds, 2);
    assert.equal(await q.get(), "ns/a");
    assert.equal(await q.get(), "ns/b");
    q.shutDown();
  });

  it("never hands one key to two workers, and re-queues a key added while in progress", async () => {
    const q = new WorkQueue();
    q.add("ns/a");
    const first = await q.get();
    assert.equal(first, "ns/a");
    q.add("ns/a"); // an event arrives during the reconcile
    assert.equal(q.length, 0, "must not be handed out while in progress");
    let second: string | undefined;
    void q.get().then((k) => {
      second = k;
    });
    await sleep(5);
    assert.equal(second, undefined);
    q.done("ns/a");
    await sleep(1);
    assert.equal(second, "ns/a");
    q.shutDown();
  });

  it("runs many workers over many keys without running a key twice at once", async () => {
    const q = new WorkQueue();
    const running = new Set<string>();
    let overlaps = 0;
    let processed = 0;
    const worker = async () => {
      for (;;) {
        const k = await q.get();
        if (k === undefined) return;
        if (running.has(k)) overlaps++;
        running.add(k);
        await sleep(Math.random() * 2);
        running.delete(k);
        processed++;
        q.done(k);
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    for (let i = 0; i < 400; i++) {
      q.add(`ns/k${i % 7}`);
      if (i % 20 === 0) await sleep(1);
    }
    while (q.length > 0) await sleep(5);
    await sleep(20);
    q.shutDown();
    await Promise.all(workers);
    assert.equal(overlaps, 0);
    assert.ok(processed >= 7 && processed <= 400, `processed ${processed}`);
  });

  it("backs off exponentially per key and resets on forget", () => {
    const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((n) => q.backoffMs(n)),
      [100, 200, 400, 800, 1000, 1000],
    );
    q.addRateLimited("ns/a");
    q.addRateLimited("ns/a");
    assert.equal(q.failures("ns/a"), 2);
    q.forget("ns/a");
    assert.equal(q.failures("ns/a"), 0);
    q.shutDown();
  });

  it("delivers a rate-limited key after its delay, and an earlier addAfter wins", async () => {
    let retries = 0;
    const q = new WorkQueue({ baseDelayMs: 20, hooks: { onRetry: () => retries++ } });
    q.addRateLimited("ns/a");
    assert.equal(q.length, 0);
    assert.equal(await q.get(), "ns/a");
    assert.equal(retries, 1);
    q.done("ns/a");
    q.addAfter("ns/b", 10_000);
    q.addAfter("ns/b", 10);
    const t0 = Date.now();
    assert.equal(await q.get(), "ns/b");
    assert.ok(Date.now() - t0 < 5_000);
    q.shutDown();
  });

  it("releases waiting workers on shutdown", async () => {
    const q = new WorkQueue();
    const pending = q.get();
    q.shutDown();
    assert.equal(await pending, undefined);
    assert.equal(await q.get(), undefined);
    q.add("ns/a");
    assert.equal(q.length, 0);
  });
});
