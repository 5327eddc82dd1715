import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../../platform/logger.ts";
import { storeStreamNames } from "../../../platform/store-streams.ts";
import { isWrongLastSequence } from "./jetstream-errors.ts";
import { connectToNats } from "./nats-connection.ts";
import { PresenceFollower } from "./presence-follower.ts";
import { PresenceSubjects } from "./presence-subjects.ts";
import type {
  DepartureSink,
  PresenceDeparture,
  PresencePage,
  PresenceTable,
  RoomsPage,
} from "./presence-table.ts";
import { backendFailure, StoreError } from "./store-error.ts";
import { ensureStream } from "./stream-setup.ts";

export interface JetStreamPresenceTableOptions {
  readonly servers: readonly string[];
  /** The message stream's name; presence lives in `<stream>_PRESENCE`. */
  readonly stream: string;
  /** Subject prefix; presence lives under `<prefix>.presence.>`. */
  readonly subjectPrefix: string;
  readonly requestTimeoutMs: number;
  readonly replicas: number;
  readonly connectionName: string;
  readonly log: Logger;
}

/** How long a removal stays in the stream (then it ages out; the replica forgot it already). */
const TOMBSTONE_TTL = "10m";
/** A disconnect at least this long reloads the replica (removals may have aged out meanwhile). */
const RELOAD_AFTER_DISCONNECT_MS = 60_000;
/** An owner whose lease was released but still holds entries (its sweeper died) is swept again after this. */
const STALE_OWNER_MS = 30_000;
/** Removals of one release or expiry in flight at once; each chunk's departures are announced when it is done. */
const REMOVAL_CHUNK = 512;
/** Conditional writes of one entry before giving up with store_conflict. */
const MAX_WRITE_ATTEMPTS = 5;
/** Longest a new process waits for the table to load before giving up. */
const MIN_LOAD_TIMEOUT_MS = 60_000;

/**
 * The presence table for the JetStream store, shared by every logic process.
 *
 * One stream `<stream>_PRESENCE` keeps the last message per subject (a
 * key-value bucket by hand): an entry ("1" online, "0" removed, the removal
 * aging out after 10 minutes) and a lease per owner (its end in ms; "0"
 * released or claimed); subjects in presence-subjects.ts. Every logic process
 * follows the stream (PresenceFollower) into the same in-memory table, so
 * counts and pages are local and exact, and a writer learns whether its change
 * was a user's first or last entry in a room at the position the change has
 * in the stream: each joined/left is announced by the process that wrote it.
 *
 * Entry writes are conditional on the subject's last sequence as this
 * process's replica saw it: a write goes through only over the message the
 * writer has applied, so no transition is decided on a state the writer did
 * not see, and a sweeper's removal loses to a gateway's fresh report. Expiry
 * is claimed with a conditional publish on the lease, so one process sweeps
 * each dead owner, and it skips owners whose gateway has a live stream to it.
 *
 * Cost: every logic process holds every entry (about 200 bytes of heap each), and a
 * write waits for its echo (one publish round trip plus the consumer's hop).
 */
export class JetStreamPresenceTable implements PresenceTable {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #stream: string;
  readonly #subjects: PresenceSubjects;
  readonly #log: Logger;
  readonly #f: PresenceFollower;
  /** Owners holding entries without any lease message, and since when (Date.now()). */
  readonly #orphans = new Map<string, number>();
  #connected = true;
  #disconnectedAt = 0;
  #closed = false;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, opts: JetStreamPresenceTableOptions) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jetstream(nc, { timeout: opts.requestTimeoutMs });
    this.#stream = storeStreamNames(opts.stream).presence;
    this.#subjects = new PresenceSubjects(opts.subjectPrefix);
    this.#log = opts.log;
    this.#f = new PresenceFollower({
      js: this.#js,
      jsm,
      stream: this.#stream,
      subjects: this.#subjects,
      timeoutMs: opts.requestTimeoutMs,
      log: opts.log,
    });
    void this.#watchStatus();
  }

  /** Connects, creates the stream if needed and returns once the replica holds the whole table. */
  static async open(opts: JetStreamPresenceTableOptions): Promise<JetStreamPresenceTable> {
    const nc = await connectToNats(opts.servers, `${opts.connectionName}-presence`, opts.requestTimeoutMs);
    const stream = storeStreamNames(opts.stream).presence;
    let table: JetStreamPresenceTable;
    try {
      const jsm = await jetstreamManager(nc, { timeout: opts.requestTimeoutMs });
      await ensurePresenceStream(jsm, stream, `${opts.subjectPrefix}.presence.>`, opts.replicas);
      table = new JetStreamPresenceTable(nc, jsm, opts);
    } catch (err) {
      await nc.close().catch(() => {});
      throw backendFailure("nats", err, `cannot set up stream ${stream}`);
    }
    try {
      await table.#f.whenReady(Math.max(MIN_LOAD_TIMEOUT_MS, opts.requestTimeoutMs * 10));
    } catch (err) {
      await table.close();
      throw err;
    }
    return table;
  }

  async setOnline(room: string, user: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
    await this.#f.whenReady();
    // An entry always has a live lease behind it, or a crash of its gateway
    // would leave it forever; a live lease is never shortened here.
    if ((this.#f.leases.get(owner)?.expiresAt ?? 0) <= now)
      await this.#f.outcome(await this.#publish(this.#subjects.lease(owner), String(now + ttlMs)));
    return this.#writeEntry(room, user, owner, true);
  }

  async setOffline(room: string, user: string, owner: string): Promise<boolean> {
    await this.#f.whenReady();
    return this.#writeEntry(room, user, owner, false);
  }

  async renew(owner: string, now: number, ttlMs: number): Promise<void> {
    await this.#f.whenReady();
    await this.#f.outcome(await this.#publish(this.#subjects.lease(owner), String(now + ttlMs)));
  }

  async release(owner: string, announce: DepartureSink): Promise<number> {
    await this.#f.whenReady();
    // Released first, so no sweeper claims the owner while its entries go.
    await this.#f.outcome(await this.#publish(this.#subjects.lease(owner), "0", TOMBSTONE_TTL));
    return this.#removeAll(owner, announce, () => true);
  }

  async expire(now: number, isLive: (owner: string) => boolean, announce: DepartureSink): Promise<number> {
    await this.#f.whenReady();
    await this.#f.catchUp();
    const wall = Date.now();
    let gone = 0;
    for (const [owner, lease] of [...this.#f.leases]) {
      const held = this.#f.replica.ownerSize(owner);
      if (lease.expiresAt === 0 && held === 0) {
        // Released and empty: nothing left to watch for.
        if (wall - lease.seenAt >= STALE_OWNER_MS) this.#f.leases.delete(owner);
        continue;
      }
      const due = lease.expiresAt > 0 ? lease.expiresAt <= now : wall - lease.seenAt >= STALE_OWNER_MS;
      if (!due || isLive(owner)) continue;
      if (await this.#claim(owner, lease.seq))
        gone += await this.#removeAll(owner, announce, () => !this.#renewedSince(owner, now));
    }
    for (const owner of [...this.#f.replica.owners()]) {
      if (this.#f.leases.has(owner)) {
        this.#orphans.delete(owner);
        continue;
      }
      const since = this.#orphans.get(owner);
      if (since === undefined) this.#orphans.set(owner, wall);
      else if (wall - since >= STALE_OWNER_MS && !isLive(owner) && (await this.#claim(owner, 0))) {
        this.#orphans.delete(owner);
        gone += await this.#removeAll(owner, announce, () => !this.#renewedSince(owner, now));
      }
    }
    return gone;
  }

  async page(room: string, after: string, limit: number): Promise<PresencePage> {
    await this.#f.whenReady();
    await this.#f.catchUp();
    return this.#f.replica.page(room, after, limit);
  }

  async rooms(after: string, limit: number): Promise<RoomsPage> {
    await this.#f.whenReady();
    await this.#f.catchUp();
    return this.#f.replica.rooms(after, limit);
  }

  async entryCount(): Promise<number> {
    return this.#f.replica.entries;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#f.close();
    await this.#nc.close().catch(() => {});
  }

  /**
   * Writes an entry conditionally on the last sequence this replica applied
   * for it. A lost race means someone wrote it since: catch up and decide
   * again (nothing to do when it already is what we want).
   */
  async #writeEntry(
    room: string,
    user: string,
    owner: string,
    online: boolean,
    stillWanted?: () => boolean,
  ): Promise<boolean> {
    const subject = this.#subjects.entry(room, user, owner);
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      if (stillWanted?.() === false) return false;
      // The first attempt writes even when the replica agrees already: a
      // change it has not seen yet may be in flight, and the condition tells.
      if (attempt > 0 && this.#f.replica.has(room, user, owner) === online) return false;
      const expect = this.#f.entrySeq(room, user, owner);
      let seq: number;
      try {
        seq = await this.#publish(subject, online ? "1" : "0", online ? undefined : TOMBSTONE_TTL, expect);
      } catch (err) {
        if (!(err instanceof StoreError && isWrongLastSequence(err.cause))) throw err;
        await this.#f.catchUp();
        if (this.#f.entrySeq(room, user, owner) === expect) await this.#resync(subject, room, user, owner);
        continue;
      }
      return this.#f.outcome(seq);
    }
    throw new StoreError("store_conflict", "presence: too many concurrent changes of one entry");
  }

  /**
   * The replica's sequence for a subject disagrees with the stream after a
   * catch-up: the message it knew aged out (a removal older than its TTL), or
   * the replica still lags. Takes the stream's word when it matches what the
   * replica holds.
   */
  async #resync(subject: string, room: string, user: string, owner: string): Promise<void> {
    let sm: Awaited<ReturnType<JetStreamManager["direct"]["getMessage"]>>;
    try {
      sm = await this.#jsm.direct.getMessage(this.#stream, { last_by_subj: subject });
    } catch (err) {
      throw backendFailure("nats", err, "presence read failed");
    }
    const has = this.#f.replica.has(room, user, owner);
    if (sm === null) {
      if (!has) this.#f.setEntrySeq(room, user, owner, 0);
      return;
    }
    const online = sm.data.length === 1 && sm.data[0] === 0x31;
    if (sm.seq <= this.#f.applied && online === has) this.#f.setEntrySeq(room, user, owner, sm.seq);
  }

  /** Takes over a dead owner: true when this process won the conditional publish on its lease. */
  async #claim(owner: string, leaseSeq: number): Promise<boolean> {
    const subject = this.#subjects.lease(owner);
    for (const expect of [leaseSeq, 0]) {
      try {
        await this.#f.outcome(await this.#publish(subject, "0", TOMBSTONE_TTL, expect));
        return true;
      } catch (err) {
        if (!(err instanceof StoreError && isWrongLastSequence(err.cause))) throw err;
      }
      // Lost, or the lease message we knew has aged out: only the latter is ours to retry.
      if (expect === 0) return false;
      let sm: Awaited<ReturnType<JetStreamManager["direct"]["getMessage"]>>;
      try {
        sm = await this.#jsm.direct.getMessage(this.#stream, { last_by_subj: subject });
      } catch (err) {
        throw backendFailure("nats", err, "presence read failed");
      }
      if (sm !== null) return false;
    }
    return false;
  }

  /** The owner's lease was renewed (or re-created by a report) after the sweep started at `now`. */
  #renewedSince(owner: string, now: number): boolean {
    return (this.#f.leases.get(owner)?.expiresAt ?? 0) > now;
  }

  /**
   * Removes the owner's entries a chunk at a time, announcing each chunk's
   * departures as soon as it is done. A failed removal is logged, not thrown:
   * the owner keeps a released lease and the rest is swept again later.
   */
  async #removeAll(owner: string, announce: DepartureSink, stillWanted: () => boolean): Promise<number> {
    const entries = this.#f.replica.entriesOf(owner);
    let gone = 0;
    let failures = 0;
    let firstError: unknown;
    for (let i = 0; i < entries.length && stillWanted(); i += REMOVAL_CHUNK) {
      const chunk = entries.slice(i, i + REMOVAL_CHUNK);
      const settled = await Promise.allSettled(
        chunk.map((e) => this.#writeEntry(e.room, e.user, owner, false, stillWanted)),
      );
      const left: PresenceDeparture[] = [];
      settled.forEach((r, j) => {
        if (r.status === "fulfilled") {
          if (r.value) left.push(chunk[j] as PresenceDeparture);
        } else {
          failures++;
          firstError ??= r.reason;
        }
      });
      if (left.length > 0) {
        announce(left);
        gone += left.length;
      }
    }
    if (failures > 0)
      this.#log.warn(
        { owner, failures, err: String(firstError) },
        "presence: some entries of a departed gateway could not be removed; they are retried",
      );
    return gone;
  }

  async #publish(
    subject: string,
    body: string,
    ttl?: string,
    expectLastSubjectSeq?: number,
  ): Promise<number> {
    if (this.#closed) throw new StoreError("store_closed", "presence table is closed");
    if (!this.#connected) throw new StoreError("store_unavailable", "nats: disconnected");
    return this.#f.publish(async () => {
      try {
        const ack = await this.#js.publish(subject, body, {
          ...(ttl === undefined ? {} : { ttl }),
          ...(expectLastSubjectSeq === undefined
            ? {}
            : { expect: { lastSubjectSequence: expectLastSubjectSeq } }),
        });
        return ack.seq;
      } catch (err) {
        throw backendFailure("nats", err, "presence write failed");
      }
    });
  }

  async #watchStatus(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === "disconnect") {
        this.#connected = false;
        if (this.#disconnectedAt === 0) this.#disconnectedAt = Date.now();
      } else if (s.type === "reconnect") {
        this.#connected = true;
        const away = Date.now() - this.#disconnectedAt;
        this.#disconnectedAt = 0;
        if (away >= RELOAD_AFTER_DISCONNECT_MS) {
          this.#log.info({ awayMs: away }, "presence: reloading the table after a long disconnect");
          this.#f.reload();
        }
      }
    }
  }
}

/** The presence stream: the last message per entry or lease, removals aging out by TTL. */
async function ensurePresenceStream(
  jsm: JetStreamManager,
  name: string,
  subject: string,
  replicas: number,
): Promise<void> {
  const info = await ensureStream(jsm, {
    name,
    subject,
    replicas,
    // Removals carry a TTL so the stream does not keep one per entry ever seen.
    settings: { max_msgs_per_subject: 1, allow_direct: true, allow_msg_ttl: true },
  });
  // A server before 2.11 may take the stream without the setting it does not know.
  if (info.config.allow_msg_ttl !== true)
    throw new StoreError(
      "store_unavailable",
      `nats: stream ${name} has no per-message TTL: presence needs nats-server 2.11 or later`,
    );
}
