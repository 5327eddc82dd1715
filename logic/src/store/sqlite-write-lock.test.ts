import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, test } from "node:test";
import { SqliteStore } from "./sqlite-store.ts";
import { StoreError } from "./store-error.ts";

const dataDir = mkdtempSync(join(tmpdir(), "chatcluster-sqlite-lock-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

/** How late a 5 ms timer fires while `during` runs: the event loop's stall. */
async function timerLateness(during: Promise<unknown>): Promise<number> {
  let worst = 0;
  let done = false;
  void during.finally(() => {
    done = true;
  });
  while (!done) {
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 5));
    worst = Math.max(worst, performance.now() - t0 - 5);
  }
  return worst;
}

test("an append waits for another connection's write lock without stopping the event loop", async () => {
  const store = new SqliteStore({ dataDir, fileName: "wait.db", busyTimeoutMs: 10_000 });
  try {
    await store.append("r", { id: "a", from: "u", body: "1" });
    // Another process's writer, as `make dev`'s second logic process is.
    const other = new DatabaseSync(join(dataDir, "wait.db"));
    other.exec("BEGIN IMMEDIATE");
    const append = store.append("r", { id: "b", from: "u", body: "2" });
    let appended = false;
    void append.then(() => {
      appended = true;
    });
    // The lock holder gets its turn only if this thread keeps running.
    setTimeout(() => {
      assert.equal(appended, false, "nothing is written while the other writer holds the lock");
      other.exec("COMMIT");
      other.close();
    }, 300);
    const stall = await timerLateness(append);
    const r = await append;
    assert.equal(r.seq, 2);
    // SQLite's busy handler sleeps in the thread (up to 100 ms per try); a busy
    // machine may delay a timer, but not by the lock's whole 300 ms.
    assert.ok(stall < 250, `the event loop stalled ${Math.round(stall)} ms`);
  } finally {
    await store.close();
  }
});

test("an append gives up with a retryable error when the lock stays taken past the busy timeout", async () => {
  const store = new SqliteStore({ dataDir, fileName: "give-up.db", busyTimeoutMs: 200 });
  const other = new DatabaseSync(join(dataDir, "give-up.db"));
  try {
    await store.append("r", { id: "a", from: "u", body: "1" });
    other.exec("BEGIN IMMEDIATE");
    await assert.rejects(
      store.append("r", { id: "b", from: "u", body: "2" }),
      (err: unknown) => err instanceof StoreError && err.code === "store_unavailable" && err.retryable,
    );
    other.exec("COMMIT");
    assert.equal((await store.append("r", { id: "b", from: "u", body: "2" })).seq, 2, "works again after");
  } finally {
    other.close();
    await store.close();
  }
});

test("the WAL is checkpointed off the event loop and stays bounded", async () => {
  const store = new SqliteStore({ dataDir, fileName: "wal.db" });
  try {
    const body = JSON.stringify({ text: "x".repeat(1000) });
    // About 12 MB of WAL at one page per message and room: three times the checkpoint mark.
    for (let i = 0; i < 3000; i += 100)
      await Promise.all(
        Array.from({ length: 100 }, (_, k) =>
          store.append(`room-${k}`, { id: `m${i + k}`, from: "u", body }),
        ),
      );
    const wal = join(dataDir, "wal.db-wal");
    const deadline = Date.now() + 30_000;
    // The checkpoint thread copies the WAL; the next write transaction starts it over.
    while (statSync(wal).size > 8 * 1024 * 1024 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      await store.append("tick", { id: `t${Date.now()}`, from: "u", body: "1" });
    }
    assert.ok(statSync(wal).size <= 8 * 1024 * 1024, `WAL at ${statSync(wal).size} bytes`);
  } finally {
    await store.close();
  }
});
