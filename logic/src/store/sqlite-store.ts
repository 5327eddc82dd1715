import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { type CurrentState, currentView } from "./edit-state.ts";
import { checkAppend, checkLimit, checkRoom } from "./input-checks.ts";
import type {
  AppendInput,
  AppendResult,
  MessageKind,
  MessageStore,
  ReadOptions,
  ReadResult,
  StoredMessage,
} from "./message-store.ts";
import { SqliteCheckpointer } from "./sqlite-checkpointer.ts";
import { backendFailure, StoreError } from "./store-error.ts";

/**
 * The embedded store: one SQLite file (node:sqlite) in WAL mode.
 *
 * Ordering: a room's next seq is computed and inserted in one statement
 * (`INSERT … SELECT max(seq)+1`) inside a `BEGIN IMMEDIATE` transaction, which
 * takes SQLite's single write lock; `PRIMARY KEY (room, seq)` and
 * `UNIQUE (room, id)` make a gap or duplicate impossible even if that reasoning
 * were wrong. Several processes may share the file (`make dev` runs two logic
 * processes on one): appends use a connection of their own that never waits
 * inside SQLite for the lock. SQLite's busy handler sleeps in the calling
 * thread (1, 2, 5, 10 ... 100 ms between tries, and a process that keeps
 * taking the lock back starves the other), which stopped the whole event loop
 * of the waiting process for up to seconds under load; here a batch that
 * finds the lock taken tries again on the next turns of the event loop while
 * new appends join it, and fails retryable after `busyTimeoutMs`.
 *
 * Layout: an ordinary rowid table, so rows (bodies up to the body limit)
 * append at the end of the file, with (room, seq) and (room, id) as the two
 * indexes; a clustered WITHOUT ROWID layout measured 3-5x slower here because
 * inserts into many rooms split pages all over the tree.
 *
 * Group commit: appends arriving in the same event-loop turn (up to `maxBatch`)
 * share one transaction, so the commit cost (and the fsync with
 * `synchronous: "full"`) is paid once per batch, not once per message.
 *
 * Checkpoints run in a worker thread (sqlite-checkpointer.ts), not inside a
 * commit on the event loop.
 *
 * Edits and deletes are rows of their own (kind, target) in the room's
 * sequence; the same transaction records the target's current state in its
 * row (edit_seq, edit_ts, edit_body, deleted), so the current view of a page
 * is the page's own rows.
 *
 * Durability: with `synchronous: "normal"` (the default) a committed append
 * survives a crash or kill of any process; a power loss or OS crash may lose
 * the last commits before the next WAL checkpoint. `"full"` syncs the WAL on
 * every commit (one fsync per batch) and also survives power loss.
 */
export interface SqliteStoreOptions {
  /** Directory of the database file; created when missing. */
  readonly dataDir: string;
  /** Database file name inside dataDir. Default `chatcluster.db`. */
  readonly fileName?: string;
  /** How long a writer waits for another process's write lock. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /** Most appends in one transaction. Default 256. */
  readonly maxBatch?: number;
  /** SQLite `synchronous` in WAL mode. Default "normal" (see above). */
  readonly synchronous?: "normal" | "full";
}

export const DEFAULT_SQLITE_FILE = "chatcluster.db";
const DEFAULT_BUSY_TIMEOUT_MS = 5000;
const DEFAULT_MAX_BATCH = 256;
/** WAL size at which the checkpoint thread copies it into the database (SQLite's own mark is 1,000 pages). */
const CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024;
/** SQLite's own checkpoint, inside a commit, only past this many pages (64 MiB): the backstop. */
const BACKSTOP_AUTOCHECKPOINT_PAGES = 16_384;
/** Tries of a busy write lock on the next turns of the event loop before waiting a millisecond between tries. */
const BUSY_IMMEDIATE_TRIES = 8;
const SQLITE_BUSY = 5;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  room   TEXT    NOT NULL,
  seq    INTEGER NOT NULL,
  id     TEXT    NOT NULL,
  sender TEXT    NOT NULL,
  ts     INTEGER NOT NULL,
  body   TEXT    NOT NULL,
  PRIMARY KEY (room, seq),
  UNIQUE (room, id)
);
CREATE TABLE IF NOT EXISTS read_markers (
  room    TEXT    NOT NULL,
  user_id TEXT    NOT NULL,
  seq     INTEGER NOT NULL,
  PRIMARY KEY (room, user_id)
) WITHOUT ROWID;`;

/**
 * Columns added for edits and deletes; files written before them get them
 * with ALTER TABLE (their rows are messages without edits).
 */
const EDIT_COLUMNS: readonly [string, string][] = [
  ["kind", "INTEGER NOT NULL DEFAULT 0"],
  ["target", "INTEGER NOT NULL DEFAULT 0"],
  ["edit_seq", "INTEGER NOT NULL DEFAULT 0"],
  ["edit_ts", "INTEGER NOT NULL DEFAULT 0"],
  ["edit_body", "TEXT"],
  ["deleted", "INTEGER NOT NULL DEFAULT 0"],
];
/** Stored codes of MessageKind. */
const KINDS: readonly MessageKind[] = ["message", "edit", "delete"];

interface PendingAppend {
  readonly room: string;
  readonly input: AppendInput;
  readonly resolve: (r: AppendResult) => void;
  readonly reject: (e: unknown) => void;
}

interface Row {
  seq: number;
  id: string;
  sender: string;
  ts: number;
  body: string;
  kind: number;
  target: number;
  edit_seq: number;
  edit_ts: number;
  edit_body: string | null;
  deleted: number;
}

export class SqliteStore implements MessageStore {
  readonly kind = "sqlite" as const;
  /** The database file, for logs. */
  readonly path: string;
  readonly #db: DatabaseSync;
  /** Appends only: busy timeout 0, so a taken write lock is an answer, not a sleep. */
  readonly #writer: DatabaseSync;
  readonly #checkpointer: SqliteCheckpointer;
  readonly #busyTimeoutMs: number;
  readonly #maxBatch: number;
  readonly #findById: StatementSync;
  readonly #insert: StatementSync;
  readonly #applyEdit: StatementSync;
  readonly #head: StatementSync;
  readonly #page: StatementSync;
  readonly #setRead: StatementSync;
  readonly #getRead: StatementSync;
  #pending: PendingAppend[] = [];
  #flushScheduled = false;
  /** performance.now() when the waiting batch first found the write lock taken; 0 when not waiting. */
  #busySince = 0;
  #busyTries = 0;
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    this.path = join(options.dataDir, options.fileName ?? DEFAULT_SQLITE_FILE);
    this.#maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    this.#busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    const synchronous = `PRAGMA synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`;
    try {
      this.#db = new DatabaseSync(this.path, { timeout: this.#busyTimeoutMs });
      this.#db.exec("PRAGMA journal_mode = WAL");
      this.#db.exec(synchronous);
      this.#db.exec(SCHEMA);
      const have = new Set(
        (this.#db.prepare("PRAGMA table_info(messages)").all() as { name: string }[]).map((c) => c.name),
      );
      for (const [name, type] of EDIT_COLUMNS)
        if (!have.has(name)) this.#db.exec(`ALTER TABLE messages ADD COLUMN ${name} ${type}`);
      this.#writer = new DatabaseSync(this.path, { timeout: 0 });
      this.#writer.exec(synchronous);
      this.#writer.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`);
      this.#findById = this.#writer.prepare(
        "SELECT seq, ts, sender FROM messages WHERE room = $room AND id = $id",
      );
      // A resend (the id is stored already) inserts nothing and returns no row.
      this.#insert = this.#writer.prepare(
        `INSERT INTO messages (room, seq, id, sender, ts, body, kind, target)
         SELECT $room, coalesce(max(seq), 0) + 1, $id, $sender, $ts, $body, $kind, $target
         FROM messages WHERE room = $room
         ON CONFLICT (room, id) DO NOTHING
         RETURNING seq`,
      );
      // The rule of edit-state.ts nextState: a delete is final, an older event loses.
      this.#applyEdit = this.#writer.prepare(
        `UPDATE messages SET edit_seq = $seq, edit_ts = $ts, deleted = $deleted,
           edit_body = CASE WHEN $deleted = 1 THEN NULL ELSE $body END
         WHERE room = $room AND seq = $target AND kind = 0 AND deleted = 0 AND edit_seq < $seq`,
      );
      this.#head = this.#db.prepare("SELECT coalesce(max(seq), 0) AS head FROM messages WHERE room = $room");
      this.#page = this.#db.prepare(
        `SELECT seq, id, sender, ts, body, kind, target, edit_seq, edit_ts, edit_body, deleted
         FROM messages WHERE room = $room AND seq > $since ORDER BY seq LIMIT $limit`,
      );
      this.#setRead = this.#db.prepare(
        `INSERT INTO read_markers (room, user_id, seq) VALUES ($room, $user, $seq)
         ON CONFLICT (room, user_id) DO UPDATE SET seq = max(seq, excluded.seq) RETURNING seq`,
      );
      this.#getRead = this.#db.prepare("SELECT seq FROM read_markers WHERE room = $room AND user_id = $user");
    } catch (err) {
      throw backendFailure("sqlite", err, `cannot open ${this.path}`);
    }
    this.#checkpointer = new SqliteCheckpointer({
      path: this.path,
      walBytes: CHECKPOINT_WAL_BYTES,
      intervalMs: 20,
    });
  }

  append(room: string, input: AppendInput): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new StoreError("store_closed", "store is closed"));
    try {
      checkAppend(room, input);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.#pending.push({ room, input, resolve, reject });
      if (this.#pending.length >= this.#maxBatch && this.#busySince === 0) this.#flush();
      else if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(this.#flushNow);
      }
    });
  }

  async read(room: string, options: ReadOptions): Promise<ReadResult> {
    if (this.#closed) throw new StoreError("store_closed", "store is closed");
    checkRoom(room);
    checkLimit(options.limit);
    try {
      // One read transaction: head and page come from the same snapshot.
      this.#db.exec("BEGIN");
      try {
        const headSeq = Number((this.#head.get({ room }) as { head: number }).head);
        const since = options.since ?? Math.max(0, headSeq - options.limit);
        const rows = this.#page.all({ room, since, limit: options.limit }) as unknown as Row[];
        const events: StoredMessage[] = rows.map((r) => ({
          room,
          seq: r.seq,
          prev: r.seq - 1,
          id: r.id,
          from: r.sender,
          ts: r.ts,
          body: r.body,
          kind: KINDS[r.kind] ?? "message",
          target: r.target,
        }));
        const lastSeq = events.at(-1)?.seq ?? since;
        const complete = lastSeq >= headSeq;
        if (options.view !== "current") return { messages: events, lastSeq, complete, headSeq };
        const states = new Map<number, CurrentState>();
        for (const r of rows)
          if (r.edit_seq > 0)
            states.set(r.seq, {
              seq: r.edit_seq,
              ts: r.edit_ts,
              deleted: r.deleted === 1,
              body: r.edit_body ?? "null",
            });
        return { messages: currentView(events, (seq) => states.get(seq)), lastSeq, complete, headSeq };
      } finally {
        this.#db.exec("COMMIT");
      }
    } catch (err) {
      throw backendFailure("sqlite", err, "read failed");
    }
  }

  async setReadMarker(room: string, user: string, seq: number): Promise<number> {
    if (this.#closed) throw new StoreError("store_closed", "store is closed");
    checkRoom(room);
    try {
      return Number((this.#setRead.get({ room, user, seq }) as { seq: number }).seq);
    } catch (err) {
      throw backendFailure("sqlite", err, "read marker update failed");
    }
  }

  async getReadMarkers(room: string, users: readonly string[]): Promise<Map<string, number>> {
    if (this.#closed) throw new StoreError("store_closed", "store is closed");
    checkRoom(room);
    const out = new Map<string, number>();
    try {
      for (const user of users) {
        const row = this.#getRead.get({ room, user }) as { seq: number } | undefined;
        if (row !== undefined) out.set(user, Number(row.seq));
      }
    } catch (err) {
      throw backendFailure("sqlite", err, "read marker query failed");
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Commit everything already accepted before the file goes away.
    while (this.#pending.length > 0) {
      if (this.#busySince !== 0) await new Promise((r) => setTimeout(r, 1));
      this.#flush();
    }
    this.#closed = true;
    await this.#checkpointer.close();
    this.#writer.close();
    this.#db.close();
  }

  readonly #flushNow = (): void => this.#flush();

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0) return;
    try {
      this.#writer.exec("BEGIN IMMEDIATE");
    } catch (err) {
      if ((err as { errcode?: number }).errcode === SQLITE_BUSY) {
        this.#retryBusy();
        return;
      }
      this.#failPending(backendFailure("sqlite", err, "cannot start a write transaction"));
      return;
    }
    this.#busySince = 0;
    this.#busyTries = 0;
    const batch = this.#pending.splice(0, this.#maxBatch);
    if (this.#pending.length > 0 && !this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushNow);
    }
    const results: AppendResult[] = [];
    try {
      const ts = Date.now();
      for (const { room, input } of batch) {
        const kind = input.kind === undefined ? 0 : KINDS.indexOf(input.kind);
        const target = input.target ?? 0;
        const row = this.#insert.get({
          room,
          id: input.id,
          sender: input.from,
          ts,
          body: input.body,
          kind,
          target,
        }) as { seq: number } | undefined;
        if (row !== undefined) {
          // An edit or a delete also records the target's current state, in the same transaction.
          if (kind !== 0) {
            this.#applyEdit.run({
              room,
              target,
              seq: row.seq,
              ts,
              body: input.body,
              deleted: kind === 2 ? 1 : 0,
            });
          }
          results.push({ seq: row.seq, prev: row.seq - 1, ts, duplicate: false, from: input.from });
          continue;
        }
        const found = this.#findById.get({ room, id: input.id }) as {
          seq: number;
          ts: number;
          sender: string;
        };
        results.push({
          seq: found.seq,
          prev: found.seq - 1,
          ts: found.ts,
          duplicate: true,
          from: found.sender,
        });
      }
      this.#writer.exec("COMMIT");
    } catch (err) {
      try {
        this.#writer.exec("ROLLBACK");
      } catch {
        // The transaction may already be gone (SQLite rolls back on some errors itself).
      }
      const e = backendFailure("sqlite", err, "append failed");
      for (const p of batch) p.reject(e);
      return;
    }
    for (let i = 0; i < batch.length; i++) (batch[i] as PendingAppend).resolve(results[i] as AppendResult);
  }

  /** The write lock is another process's: try again soon, or give up on what waits after busyTimeoutMs. */
  #retryBusy(): void {
    const now = performance.now();
    if (this.#busySince === 0) this.#busySince = now;
    if (now - this.#busySince > this.#busyTimeoutMs) {
      this.#busySince = 0;
      this.#busyTries = 0;
      this.#failPending(
        new StoreError(
          "store_unavailable",
          `sqlite: write lock held elsewhere for ${this.#busyTimeoutMs} ms`,
        ),
      );
      return;
    }
    this.#flushScheduled = true;
    if (++this.#busyTries <= BUSY_IMMEDIATE_TRIES) setImmediate(this.#flushNow);
    else setTimeout(this.#flushNow, 1);
  }

  #failPending(e: StoreError): void {
    const failed = this.#pending;
    this.#pending = [];
    for (const p of failed) p.reject(e);
  }
}
