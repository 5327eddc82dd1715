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
  teardown: async () => rmSync(dataDir, { recursive: true, force: true }),
});
