// The thread of SqliteCheckpointer (sqlite-checkpointer.ts): a connection of
// its own that checkpoints the WAL whenever it has grown past the mark.
import { statSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { workerData } from "node:worker_threads";
import type { CheckpointerOptions } from "./sqlite-checkpointer.ts";

const o = workerData as CheckpointerOptions;
// A short busy timeout: a passive checkpoint that finds another one running just tries again later.
const db = new DatabaseSync(o.path, { timeout: 50 });

setInterval(() => {
  let size = 0;
  try {
    size = statSync(`${o.path}-wal`).size;
  } catch {
    return; // no WAL (yet)
  }
  if (size < o.walBytes) return;
  try {
    db.exec("PRAGMA wal_checkpoint(PASSIVE)");
  } catch {
    // Busy (another process's checkpoint) or closing: the next tick tries again.
  }
}, o.intervalMs);
