import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { ModerationEntry, ModerationKind, ModerationStore } from "./moderation-store.ts";
import { openSideFile, type SideFileOptions } from "./sqlite-side-file.ts";
import { backendFailure } from "./store-error.ts";

/** Entries one changes() call returns at most. */
const PAGE = 1000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS moderation (
  kind     TEXT    NOT NULL,
  key      TEXT    NOT NULL,
  until_ms INTEGER NOT NULL,
  active   INTEGER NOT NULL,
  reason   TEXT    NOT NULL,
  at_ms    INTEGER NOT NULL,
  version  INTEGER NOT NULL,
  PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS moderation_by_version ON moderation (version);`;

interface Row {
  kind: ModerationKind;
  key: string;
  until_ms: number;
  active: number;
  reason: string;
  at_ms: number;
  version: number;
}

/**
 * Bans and revocations in a SQLite file of their own beside the message
 * store, shared by the logic processes of the node. Each put takes the next
 * `version` (one past the highest) in the same write transaction, so
 * `changes(cursor)` is one index range and a follower never misses a write.
 */
export class SqliteModeration implements ModerationStore {
  readonly #db: DatabaseSync;
  readonly #put: StatementSync;
  readonly #changes: StatementSync;

  constructor(options: SideFileOptions) {
    try {
      this.#db = openSideFile(options, SCHEMA);
      this.#put = this.#db.prepare(
        `INSERT INTO moderation (kind, key, until_ms, active, reason, at_ms, version)
         VALUES ($kind, $key, $until, $active, $reason, $at, (SELECT coalesce(max(version), 0) + 1 FROM moderation))
         ON CONFLICT (kind, key) DO UPDATE SET until_ms = excluded.until_ms, active = excluded.active,
           reason = excluded.reason, at_ms = excluded.at_ms, version = excluded.version`,
      );
      this.#changes = this.#db.prepare(
        "SELECT kind, key, until_ms, active, reason, at_ms, version FROM moderation WHERE version > ? ORDER BY version LIMIT ?",
      );
    } catch (err) {
      throw backendFailure("sqlite", err, "cannot open the moderation table");
    }
  }

  async put(e: ModerationEntry): Promise<void> {
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        this.#put.run({
          kind: e.kind,
          key: e.key,
          until: e.untilMs,
          active: e.active ? 1 : 0,
          reason: e.reason,
          at: e.atMs,
        });
        this.#db.exec("COMMIT");
      } catch (err) {
        this.#db.exec("ROLLBACK");
        throw err;
      }
    } catch (err) {
      throw backendFailure("sqlite", err, "moderation write failed");
    }
  }

  async changes(cursor: number): Promise<{ entries: ModerationEntry[]; cursor: number }> {
    try {
      const rows = this.#changes.all(cursor, PAGE) as unknown as Row[];
      return {
        entries: rows.map((r) => ({
          kind: r.kind,
          key: r.key,
          untilMs: Number(r.until_ms),
          active: r.active === 1,
          reason: r.reason,
          atMs: Number(r.at_ms),
        })),
        cursor: rows.length === 0 ? cursor : Number((rows.at(-1) as Row).version),
      };
    } catch (err) {
      throw backendFailure("sqlite", err, "moderation read failed");
    }
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}
