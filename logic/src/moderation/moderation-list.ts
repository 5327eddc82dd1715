import type { Logger } from "../../../platform/logger.ts";
import {
  inForce,
  type ModerationEntry,
  type ModerationKind,
  type ModerationStore,
} from "../store/moderation-store.ts";
import { StoreError } from "../store/store-error.ts";

/** How often every logic process reads the entries other processes wrote. */
export const MODERATION_SYNC_MS = 250;
/** How often ended entries (expired, lifted) leave memory: every 240 syncs, once a minute. */
const PRUNE_EVERY_SYNCS = 240;
/** The first load retries a store that is not answering yet (a stream just placed on a cluster) this long. */
const START_RETRY_MS = 60_000;

/**
 * This process's copy of the bans and revocations in the store, consulted on
 * every event (in memory: one Map lookup) and brought up to date before
 * every auth (one store read, shared by the auths that wait at the same
 * time), so a banned user's next auth is refused on any process, and their
 * events within one sync interval of the ban. Entries written by other
 * processes are handed to `onLearned` once, so each process also closes the
 * connections they name (a connection that authenticated on a process that
 * had not seen the ban yet is closed when it does).
 */
export class ModerationList {
  readonly #store: ModerationStore;
  readonly #log: Logger;
  readonly #entries = new Map<string, ModerationEntry>();
  readonly #onLearned: (e: ModerationEntry) => void;
  #cursor = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The read of the store running now. */
  #running: Promise<void> | undefined;
  /** The one read queued to start after it (callers that came during it share it). */
  #queued: Promise<void> | undefined;

  constructor(store: ModerationStore, log: Logger, onLearned: (e: ModerationEntry) => void = () => {}) {
    this.#store = store;
    this.#log = log;
    this.#onLearned = onLearned;
  }

  /** Loads every entry (none is "learned": they predate this process), then follows the store. */
  async start(): Promise<void> {
    // A stream created a moment ago on a cluster may not answer direct gets
    // yet ("no responders"); that, like any retryable store error, is waited
    // out rather than ending the process.
    const deadline = Date.now() + START_RETRY_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#drain(false);
        break;
      } catch (err) {
        if (!(err instanceof StoreError) || !err.retryable || Date.now() > deadline) throw err;
        this.#log.warn({ err: err.message, attempt }, "moderation list not loaded yet; retrying");
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
    this.prune(Date.now());
    let syncs = 0;
    this.#timer = setInterval(() => {
      if (++syncs % PRUNE_EVERY_SYNCS === 0) this.prune(Date.now());
      this.fresh().catch((err: unknown) => this.#log.warn({ err: String(err) }, "moderation sync failed"));
    }, MODERATION_SYNC_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }

  /** Resolves after a read of the store that started after this call. Rejects with StoreError. */
  fresh(): Promise<void> {
    if (this.#queued !== undefined) return this.#queued;
    if (this.#running === undefined) return this.#startRead();
    // The running read may have begun before this call: one more follows it.
    this.#queued = this.#running
      .catch(() => {})
      .then(() => {
        this.#queued = undefined;
        return this.#startRead();
      });
    return this.#queued;
  }

  #startRead(): Promise<void> {
    const read: Promise<void> = this.#drain(true).finally(() => {
      if (this.#running === read) this.#running = undefined;
    });
    this.#running = read;
    return read;
  }

  /** Applies an entry this process just wrote to the store. */
  record(e: ModerationEntry): void {
    this.#entries.set(keyOf(e.kind, e.key), e);
  }

  /** The ban of `user` in force at `now`, or undefined. */
  banOf(user: string, now: number): ModerationEntry | undefined {
    const e = this.#entries.get(keyOf("ban", user));
    return inForce(e, now) ? e : undefined;
  }

  /** The revocation of token `tokenId` in force at `now`, or undefined ("" is never revoked). */
  revocationOf(tokenId: string, now: number): ModerationEntry | undefined {
    if (tokenId === "") return undefined;
    const e = this.#entries.get(keyOf("token", tokenId));
    return inForce(e, now) ? e : undefined;
  }

  /**
   * Forgets the entries no longer in force at `now` (expired or lifted), so
   * memory holds what refuses, not every ban and revocation ever written.
   * The cursor stays: a forgotten entry is never read again, and a later one
   * of the same key arrives as a change like any other.
   */
  prune(now: number): void {
    for (const [k, e] of this.#entries) if (!inForce(e, now)) this.#entries.delete(k);
  }

  /** Entries in force now, by kind (for the gauge). */
  count(kind: ModerationKind, now: number): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.kind === kind && inForce(e, now)) n++;
    return n;
  }

  async #drain(learn: boolean): Promise<void> {
    for (;;) {
      const page = await this.#store.changes(this.#cursor);
      for (const e of page.entries) {
        const k = keyOf(e.kind, e.key);
        const known = this.#entries.get(k);
        this.#entries.set(k, e);
        // Our own writes come back too: they are known already, with the same time.
        if (learn && (known === undefined || known.atMs !== e.atMs || known.active !== e.active))
          this.#onLearned(e);
      }
      if (page.cursor === this.#cursor) return;
      this.#cursor = page.cursor;
    }
  }
}

function keyOf(kind: ModerationKind, key: string): string {
  return `${kind}\0${key}`;
}
