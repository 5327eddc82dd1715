import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";

/** Where a table beside the message store lives, and how long a writer waits for another's lock. */
export interface SideFileOptions {
  readonly dataDir: string;
  readonly fileName: string;
  readonly busyTimeoutMs?: number;
}

/**
 * Opens (creating the directory and file) a SQLite file for a table beside
 * the message store, with a write lock of its own: WAL, synchronous=NORMAL
 * (commits survive a process crash), and `schema` applied. Throws what
 * node:sqlite throws.
 */
export function openSideFile(o: SideFileOptions, schema: string): DatabaseSync {
  mkdirSync(o.dataDir, { recursive: true });
  const db = new DatabaseSync(join(o.dataDir, o.fileName), { timeout: o.busyTimeoutMs ?? 5000 });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec(schema);
  return db;
}
