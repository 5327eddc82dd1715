import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "./sqlite-store.ts";
import { messageStoreContract } from "./testing/store-contract.ts";

const dataDir = mkdtempSync(join(tmpdir(), "chatcluster-sqlite-"));

messageStoreContract("sqlite", {
  durable: true,
  open: async () => new SqliteStore({ dataDir }),
  writerSpec: (room, writer, count) => ({ kind: "sqlite", dataDir, room, writer, count, concurrency: 8 }),
  // SQLite keeps every id as long as its message: the shortest window JetStream allows holds too.
  shortWindow: { windowMs: 1000, open: async () => new SqliteStore({ dataDir }) },
  teardown: async () => rmSync(dataDir, { recursive: true, force: true }),
});
