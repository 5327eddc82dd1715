import type { DatabaseSync, StatementSync } from "node:sqlite";
import type {
  DepartureSink,
  PresenceDeparture,
  PresencePage,
  PresenceTable,
  RoomsPage,
} from "./presence-table.ts";
import { openSideFile, type SideFileOptions } from "./sqlite-side-file.ts";
import { backendFailure } from "./store-error.ts";

/**
 * The presence table in SQLite, in the store's file (or its own), shared by
 * every logic process on the node. Entries are a WITHOUT ROWID table keyed
 * (room, user_id, owner), so a room's distinct users are one ordered range of
 * the primary key: the count walks that range inside SQLite (no row reaches
 * JavaScript) and a page is an index seek plus `limit` steps.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS presence (
  room    TEXT NOT NULL,
  user_id TEXT NOT NULL,
  owner   TEXT NOT NULL,
  PRIMARY KEY (room, user_id, owner)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS presence_by_owner ON presence (owner);
CREATE TABLE IF NOT EXISTS presence_owners (
  owner      TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;`;

export type SqlitePresenceTableOptions = SideFileOptions;

interface PendingChange {
  readonly room: string;
  readonly user: string;
  readonly owner: string;
  /** Lease end for a new owner when online; -1 when offline. */
  readonly expiresAt: number;
  readonly resolve: (changed: boolean) => void;
  readonly reject: (err: unknown) => void;
}

/** Most presence changes in one transaction. */
const MAX_BATCH = 512;

export class SqlitePresenceTable implements PresenceTable {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #delete: StatementSync;
  readonly #any: StatementSync;
  readonly #ownerIfMissing: StatementSync;
  readonly #renew: StatementSync;
  readonly #departures: StatementSync;
  readonly #deleteOwnerRows: StatementSync;
  readonly #deleteOwner: StatementSync;
  readonly #expired: StatementSync;
  readonly #count: StatementSync;
  readonly #entryCount: StatementSync;
  readonly #page: StatementSync;
  readonly #roomCount: StatementSync;
  readonly #roomPage: StatementSync;
  #pending: PendingChange[] = [];
  #flushScheduled = false;

  constructor(options: SqlitePresenceTableOptions) {
    try {
      this.#db = openSideFile(options, SCHEMA);
      const db = this.#db;
      this.#insert = db.prepare("INSERT OR IGNORE INTO presence (room, user_id, owner) VALUES (?, ?, ?)");
      this.#delete = db.prepare("DELETE FROM presence WHERE room = ? AND user_id = ? AND owner = ?");
      this.#any = db.prepare("SELECT 1 FROM presence WHERE room = ? AND user_id = ? LIMIT 1");
      this.#ownerIfMissing = db.prepare(
        "INSERT OR IGNORE INTO presence_owners (owner, expires_at) VALUES (?, ?)",
      );
      this.#renew = db.prepare(
        `INSERT INTO presence_owners (owner, expires_at) VALUES (?, ?)
         ON CONFLICT (owner) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
      );
      this.#departures = db.prepare(
        `SELECT p.room AS room, p.user_id AS user FROM presence p WHERE p.owner = ?
         AND NOT EXISTS (SELECT 1 FROM presence q WHERE q.room = p.room AND q.user_id = p.user_id AND q.owner <> p.owner)`,
      );
      this.#deleteOwnerRows = db.prepare("DELETE FROM presence WHERE owner = ?");
      this.#deleteOwner = db.prepare("DELETE FROM presence_owners WHERE owner = ?");
      this.#expired = db.prepare("SELECT owner FROM presence_owners WHERE expires_at <= ?");
      this.#entryCount = db.prepare("SELECT count(*) AS n FROM presence");
      this.#count = db.prepare(
        "SELECT count(*) AS n FROM (SELECT DISTINCT user_id FROM presence WHERE room = ?)",
      );
      this.#page = db.prepare(
        "SELECT DISTINCT user_id AS user FROM presence WHERE room = ? AND user_id > ? ORDER BY user_id LIMIT ?",
      );
      this.#roomCount = db.prepare("SELECT count(*) AS n FROM (SELECT DISTINCT room FROM presence)");
      // The primary key orders (room, user_id): the distinct count per room walks each room's range once.
      this.#roomPage = db.prepare(
        `SELECT room, count(DISTINCT user_id) AS users FROM presence WHERE room > ?
         GROUP BY room ORDER BY room LIMIT ?`,
      );
    } catch (err) {
      throw backendFailure("sqlite", err, "cannot open the presence table");
    }
  }

  // Changes arriving in the same event-loop turn share one transaction (a
  // join storm costs one commit per batch, not per join), applied in order.
  setOnline(room: string, user: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
    return this.#enqueue(room, user, owner, now + ttlMs);
  }

  setOffline(room: string, user: string, owner: string): Promise<boolean> {
    return this.#enqueue(room, user, owner, -1);
  }

  #enqueue(room: string, user: string, owner: string, expiresAt: number): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.#pending.push({ room, user, owner, expiresAt, resolve, reject });
      if (this.#pending.length >= MAX_BATCH) this.#flush();
      else if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#pending.splice(0, MAX_BATCH);
    if (batch.length === 0) return;
    if (this.#pending.length > 0 && !this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
    let results: boolean[];
    try {
      results = this.#write(() => batch.map((c) => this.#apply(c)));
    } catch (err) {
      for (const c of batch) c.reject(err);
      return;
    }
    batch.forEach((c, i) => {
      c.resolve(results[i] as boolean);
    });
  }

  #apply(c: PendingChange): boolean {
    if (c.expiresAt >= 0) {
      const existed = this.#any.get(c.room, c.user) !== undefined;
      this.#insert.run(c.room, c.user, c.owner);
      this.#ownerIfMissing.run(c.owner, c.expiresAt);
      return !existed;
    }
    const removed = Number(this.#delete.run(c.room, c.user, c.owner).changes) > 0;
    return removed && this.#any.get(c.room, c.user) === undefined;
  }

  async renew(owner: string, now: number, ttlMs: number): Promise<void> {
    this.#write(() => this.#renew.run(owner, now + ttlMs));
  }

  async release(owner: string, announce: DepartureSink): Promise<number> {
    const gone = this.#write(() => this.#releaseIn(owner));
    if (gone.length > 0) announce(gone);
    return gone.length;
  }

  async expire(now: number, isLive: (owner: string) => boolean, announce: DepartureSink): Promise<number> {
    const gone = this.#write(() => {
      const out: PresenceDeparture[] = [];
      for (const row of this.#expired.all(now) as unknown as { owner: string }[])
        if (!isLive(row.owner)) out.push(...this.#releaseIn(row.owner));
      return out;
    });
    if (gone.length > 0) announce(gone);
    return gone.length;
  }

  async page(room: string, after: string, limit: number): Promise<PresencePage> {
    try {
      // One read transaction: count and page from the same snapshot.
      this.#db.exec("BEGIN");
      try {
        const total = Number((this.#count.get(room) as { n: number }).n);
        const rows = this.#page.all(room, after, limit + 1) as unknown as { user: string }[];
        const more = rows.length > limit;
        return { total, users: rows.slice(0, limit).map((r) => r.user), more };
      } finally {
        this.#db.exec("COMMIT");
      }
    } catch (err) {
      throw backendFailure("sqlite", err, "presence page failed");
    }
  }

  async rooms(after: string, limit: number): Promise<RoomsPage> {
    try {
      this.#db.exec("BEGIN");
      try {
        const total = Number((this.#roomCount.get() as { n: number }).n);
        const rows = this.#roomPage.all(after, limit + 1) as unknown as { room: string; users: number }[];
        const rooms = rows.slice(0, limit).map((r) => ({ room: r.room, users: Number(r.users) }));
        return { total, rooms, more: rows.length > limit };
      } finally {
        this.#db.exec("COMMIT");
      }
    } catch (err) {
      throw backendFailure("sqlite", err, "rooms page failed");
    }
  }

  async entryCount(): Promise<number> {
    try {
      return Number((this.#entryCount.get() as { n: number }).n);
    } catch (err) {
      throw backendFailure("sqlite", err, "presence count failed");
    }
  }

  async close(): Promise<void> {
    while (this.#pending.length > 0) this.#flush();
    if (this.#db.isOpen) this.#db.close();
  }

  #releaseIn(owner: string): PresenceDeparture[] {
    const gone = (this.#departures.all(owner) as unknown as { room: string; user: string }[]).map((r) => ({
      room: r.room,
      user: r.user,
    }));
    this.#deleteOwnerRows.run(owner);
    this.#deleteOwner.run(owner);
    return gone;
  }

  #write<T>(fn: () => T): T {
    try {
      this.#db.exec("BEGIN IMMEDIATE");
    } catch (err) {
      throw backendFailure("sqlite", err, "cannot start a write transaction");
    }
    try {
      const out = fn();
      this.#db.exec("COMMIT");
      return out;
    } catch (err) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // Already rolled back by SQLite.
      }
      throw backendFailure("sqlite", err, "presence write failed");
    }
  }
}
