import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { InMemoryPresenceTable } from "./in-memory-presence-table.ts";
import { SqlitePresenceTable } from "./sqlite-presence-table.ts";
import { SqliteStore } from "./sqlite-store.ts";
import { InMemoryStoreForTests } from "./testing/memory-store.ts";
import { presenceContract } from "./testing/presence-contract.ts";
import { readMarkerContract } from "./testing/read-marker-contract.ts";

const dir = mkdtempSync(join(tmpdir(), "cc-presence-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

presenceContract("in-memory", () => new InMemoryPresenceTable());
presenceContract("sqlite", () => new SqlitePresenceTable({ dataDir: dir, fileName: `p${++n}.db` }));

// The 100,000-member figures are `make bench-presence`'s; this checks the same queries are exact.
it("sqlite: a 10,000-member room's exact count and pages without loading the list", async () => {
  const t = new SqlitePresenceTable({ dataDir: dir, fileName: "big.db" });
  // 10,000 users on two gateways, 1,000 of them on both (counted once).
  for (let i = 0; i < 10_000; i += 1000) {
    const batch: Promise<boolean>[] = [];
    for (let j = i; j < i + 1000; j++) {
      const u = `user-${String(j).padStart(6, "0")}`;
      batch.push(t.setOnline("big", u, "gw0/e1", 0, 600_000));
      if (j % 10 === 0) batch.push(t.setOnline("big", u, "gw1/e1", 0, 600_000));
    }
    await Promise.all(batch);
  }
  const page = await t.page("big", "", 100);
  assert.equal(page.total, 10_000);
  assert.equal(page.users.length, 100);
  assert.equal(page.users[0], "user-000000");
  assert.equal(page.more, true);
  const later = await t.page("big", "user-005000", 100);
  assert.equal(later.users[0], "user-005001");
  await t.close();
});

readMarkerContract("in-memory", async () => new InMemoryStoreForTests());
readMarkerContract("sqlite", async () => new SqliteStore({ dataDir: dir, fileName: `m${++n}.db` }));
