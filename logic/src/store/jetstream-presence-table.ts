import {
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../../platform/logger.ts";
import { isWrongLastSequence } from "./jetstream-store.ts";
import { PresenceReplica } from "./presence-replica.ts";
import type { PresenceDeparture, PresencePage, PresenceTable } from "./presence-table.ts";
import { backendFailure, StoreError } from "./store-error.ts";

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

/** How long a removal stays in the stream: a watcher that falls further behind reloads. */
const TOMBSTONE_TTL = "10m";
/** A disconnect at least this long reloads the replica (removals may have aged out meanwhile). */
const RELOAD_AFTER_DISCONNECT_MS = 60_000;
/** An owner whose lease was released but still holds entries (its sweeper died) is swept again after this. */
const STALE_OWNER_MS = 30_000;
/** Longest a read waits for the replica to catch up with the stream. */
const CATCH_UP_MAX_MS = 1000;
/** Removals of one release or expiry in flight at once. */
const REMOVAL_CHUNK = 512;
/** Transitions of recent writes kept for a publish whose ack arrives after the watch applied it. */
const RECENT_RESULTS = 16_384;

const ONLINE = 0x31; // "1"
const decoder = new TextDecoder();

interface Lease {
  /** Lease end in ms since the epoch; 0 when released or claimed by a sweeper. */
  readonly expiresAt: number;
  /** Stream sequence of the lease message, for the conditional claim. */
  readonly seq: number;
  /** When this process applied it (Date.now()). */
  readonly seenAt: number;
}

interface Waiter {
  readonly resolve: (changed: boolean) => void;
  readonly reject: (err: StoreError) => void;
  readonly deadline: number;
}

/**
 * The presence table for the JetStream store, shared by every logic process.
 *
 * One stream `<stream>_PRESENCE` keeps the last message per subject (a
 * key-value bucket by hand): an entry is `<prefix>.presence.e.<room>.<user>.<owner>`
 * ("1" online, "0" removed, the removal aging out after 10 minutes), a lease
 * is `<prefix>.presence.l.<owner>` (its end in ms; "0" released). Every logic
 * process follows the stream with an ordered consumer and applies it to a
 * PresenceReplica in stream order, so every process holds the same table:
 * counts are exact in memory (no member list leaves NATS for a count), pages
 * come from one pass over the room, and "first entry of this user" / "last
 * one gone" is decided at the write's position in the one order all processes
 * share. A writer learns that answer when its own write comes back through
 * the consumer, so each joined/left is announced once, by the process that
 * wrote the change. Expiry is claimed with a conditional publish on the lease
 * (expected last subject sequence), so one process sweeps each dead owner.
 *
 * Cost: every logic process holds every entry (about 150 bytes each), and a
 * write waits for its echo (one publish round trip plus the consumer's hop).
 */
export class JetStreamPresenceTable implements PresenceTable {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #stream: string;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  readonly #replica = new PresenceReplica();
  readonly #leases = new Map<string, Lease>();
  /** Owners holding entries without any lease message, and since when (Date.now()). */
  readonly #orphans = new Map<string, number>();
  readonly #waiters = new Map<number, Waiter>();
  readonly #results = new Map<number, boolean>();
  readonly #catchUps: { seq: number; resolve: () => void }[] = [];
  #applied = 0;
  #live = false;
  #ready!: Promise<void>;
  #markReady!: () => void;
  #messages: ConsumerMessages | undefined;
  #connected = true;
  #disconnectedAt = 0;
  #closed = false;
  readonly #timer: NodeJS.Timeout;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, opts: JetStreamPresenceTableOptions) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jetstream(nc, { timeout: opts.requestTimeoutMs });
    this.#stream = `${opts.stream}_PRESENCE`;
    this.#prefix = `${opts.subjectPrefix}.presence`;
    this.#timeoutMs = opts.requestTimeoutMs;
    this.#log = opts.log;
    this.#resetReady();
    this.#timer = setInterval(() => this.#failOverdue(), 1000);
    this.#timer.unref();
    void this.#follow();
    void this.#watchStatus();
  }

  /** Connects, creates the stream if needed and returns once the replica holds the whole table. */
  static async open(opts: JetStreamPresenceTableOptions): Promise<JetStreamPresenceTable> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: [...opts.servers],
        name: `${opts.connectionName}-presence`,
        timeout: opts.requestTimeoutMs,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
      });
    } catch (err) {
      throw backendFailure("nats", err, `cannot connect to ${opts.servers.join(",")}`);
    }
    let table: JetStreamPresenceTable;
    try {
      const jsm = await jetstreamManager(nc, { timeout: opts.requestTimeoutMs });
      await ensureStream(jsm, `${opts.stream}_PRESENCE`, `${opts.subjectPrefix}.presence.>`, opts.replicas);
      table = new JetStreamPresenceTable(nc, jsm, opts);
    } catch (err) {
      await nc.close().catch(() => {});
      throw backendFailure("nats", err, `cannot set up stream ${opts.stream}_PRESENCE`);
    }
    await table.#ready;
    return table;
  }

  async setOnline(room: string, user: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
    await this.#whenReady();
    // An entry always has a lease behind it, or a crash of its gateway would leave it forever.
    if ((this.#leases.get(owner)?.expiresAt ?? 0) === 0)
      await this.#publish(this.#leaseSubject(owner), String(now + ttlMs));
    // Published even when the replica already has the entry: a removal of it may be in flight.
    return this.#outcome(await this.#publish(this.#entrySubject(room, user, owner), "1"));
  }

  async setOffline(room: string, user: string, owner: string): Promise<boolean> {
    await this.#whenReady();
    return this.#outcome(await this.#publish(this.#entrySubject(room, user, owner), "0", TOMBSTONE_TTL));
  }

  async renew(owner: string, now: number, ttlMs: number): Promise<void> {
    await this.#whenReady();
    await this.#outcome(await this.#publish(this.#leaseSubject(owner), String(now + ttlMs)));
  }

  async release(owner: string): Promise<PresenceDeparture[]> {
    await this.#whenReady();
    // Released first, so no sweeper claims the owner while its entries go.
    await this.#outcome(await this.#publish(this.#leaseSubject(owner), "0", TOMBSTONE_TTL));
    return this.#removeAll(owner);
  }

  async expire(now: number): Promise<PresenceDeparture[]> {
    await this.#whenReady();
    await this.#catchUp();
    const wall = Date.now();
    const gone: PresenceDeparture[] = [];
    for (const [owner, lease] of [...this.#leases]) {
      const due =
        lease.expiresAt > 0
          ? lease.expiresAt <= now
          : wall - lease.seenAt >= STALE_OWNER_MS && this.#replica.entriesOf(owner).length > 0;
      if (due && (await this.#claim(owner, lease.seq))) gone.push(...(await this.#removeAll(owner)));
    }
    for (const owner of [...this.#replica.owners()]) {
      if (this.#leases.has(owner)) continue;
      const since = this.#orphans.get(owner);
      if (since === undefined) this.#orphans.set(owner, wall);
      else if (wall - since >= STALE_OWNER_MS && (await this.#claim(owner, 0))) {
        this.#orphans.delete(owner);
        gone.push(...(await this.#removeAll(owner)));
      }
    }
    return gone;
  }

  async page(room: string, after: string, limit: number): Promise<PresencePage> {
    await this.#whenReady();
    await this.#catchUp();
    return this.#replica.page(room, after, limit);
  }

  async entryCount(): Promise<number> {
    return this.#replica.entries;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#failAll(new StoreError("store_closed", "presence table is closed"));
    await this.#messages?.close().catch(() => {});
    await this.#nc.close().catch(() => {});
  }

  /** Takes over a dead owner: true when this process won the conditional publish on its lease. */
  async #claim(owner: string, leaseSeq: number): Promise<boolean> {
    let seq: number;
    try {
      seq = await this.#publish(this.#leaseSubject(owner), "0", TOMBSTONE_TTL, leaseSeq);
    } catch (err) {
      if (err instanceof StoreError && isWrongLastSequence(err.cause)) return false;
      throw err;
    }
    await this.#outcome(seq);
    return true;
  }

  async #removeAll(owner: string): Promise<PresenceDeparture[]> {
    const entries = this.#replica.entriesOf(owner);
    const gone: PresenceDeparture[] = [];
    for (let i = 0; i < entries.length; i += REMOVAL_CHUNK) {
      const chunk = entries.slice(i, i + REMOVAL_CHUNK);
      const last = await Promise.all(
        chunk.map(async (e) =>
          this.#outcome(await this.#publish(this.#entrySubject(e.room, e.user, owner), "0", TOMBSTONE_TTL)),
        ),
      );
      chunk.forEach((e, j) => {
        if (last[j]) gone.push(e);
      });
    }
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
  }

  /**
   * Waits until the replica has applied everything written before this call,
   * so a read reflects other processes' writes that completed before it
   * (otherwise a replica may lag them by the consumer's hop). Bounded: if the
   * newest message aged out (a removal after 10 idle minutes), the consumer
   * never delivers it, and nothing was written after it anyway.
   */
  async #catchUp(): Promise<void> {
    let last: number;
    try {
      last = (await this.#jsm.streams.info(this.#stream)).state.last_seq;
    } catch (err) {
      throw backendFailure("nats", err, "presence read failed");
    }
    if (last <= this.#applied) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#catchUps.push({ seq: last, resolve });
      timer = setTimeout(resolve, CATCH_UP_MAX_MS);
    });
    clearTimeout(timer);
  }

  /** What the write at `seq` did when the consumer applied it (true: first or last entry of a user). */
  #outcome(seq: number): Promise<boolean> {
    if (seq <= this.#applied) {
      const changed = this.#results.get(seq) === true;
      this.#results.delete(seq);
      return Promise.resolve(changed);
    }
    return new Promise((resolve, reject) => {
      this.#waiters.set(seq, { resolve, reject, deadline: performance.now() + this.#timeoutMs });
    });
  }

  #apply(subject: string, data: Uint8Array, seq: number): void {
    const t = subject.split(".");
    const n = t.length;
    let changed = false;
    if (t[n - 4] === "e") {
      const room = decodeToken(t[n - 3]);
      const user = decodeToken(t[n - 2]);
      const owner = decodeToken(t[n - 1]);
      changed =
        data.length === 1 && data[0] === ONLINE
          ? this.#replica.add(room, user, owner)
          : this.#replica.remove(room, user, owner);
    } else if (t[n - 2] === "l") {
      const owner = decodeToken(t[n - 1]);
      const expiresAt = Number(decoder.decode(data)) || 0;
      this.#leases.set(owner, { expiresAt, seq, seenAt: Date.now() });
      this.#orphans.delete(owner);
    }
    // A write replaced by a later one on its subject before the consumer saw
    // it never reached any replica: its writer learns "no change".
    if (seq > this.#applied + 1 && this.#waiters.size > 0)
      for (const [s, w] of this.#waiters)
        if (s < seq) {
          this.#waiters.delete(s);
          w.resolve(false);
        }
    this.#applied = seq;
    if (this.#catchUps.length > 0) this.#releaseCatchUps();
    const w = this.#waiters.get(seq);
    if (w !== undefined) {
      this.#waiters.delete(seq);
      w.resolve(this.#live && changed);
    } else if (changed && this.#live) {
      this.#results.set(seq, true);
      if (this.#results.size > RECENT_RESULTS)
        this.#results.delete(this.#results.keys().next().value as number);
    }
  }

  /** Follows the stream from its current state (last message per subject), reloading from scratch when asked. */
  async #follow(): Promise<void> {
    while (!this.#closed) {
      this.#reset();
      try {
        const info = await this.#jsm.streams.info(this.#stream);
        if (info.state.messages === 0) this.#setLive();
        const consumer = await this.#js.consumers.get(this.#stream, {
          filter_subjects: [`${this.#prefix}.>`],
          deliver_policy: DeliverPolicy.LastPerSubject,
        });
        const messages = await consumer.consume({ max_messages: 4096 });
        this.#messages = messages;
        for await (const m of messages) {
          this.#apply(m.subject, m.data, m.seq);
          if (!this.#live && m.info.pending === 0) this.#setLive();
        }
      } catch (err) {
        if (this.#closed) return;
        this.#log.warn({ err: String(err) }, "presence: following the table failed; reloading");
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  #releaseCatchUps(): void {
    let keep = 0;
    for (const c of this.#catchUps) {
      if (c.seq <= this.#applied) c.resolve();
      else this.#catchUps[keep++] = c;
    }
    this.#catchUps.length = keep;
  }

  #reset(): void {
    this.#replica.clear();
    this.#leases.clear();
    this.#orphans.clear();
    this.#results.clear();
    this.#applied = 0;
    if (this.#live) this.#resetReady();
    this.#live = false;
    // Writes in flight are applied during the reload, when nothing counts as a change.
    for (const w of this.#waiters.values()) w.resolve(false);
    this.#waiters.clear();
  }

  #resetReady(): void {
    this.#ready = new Promise((resolve) => {
      this.#markReady = resolve;
    });
  }

  #setLive(): void {
    this.#live = true;
    this.#markReady();
  }

  async #whenReady(): Promise<void> {
    if (this.#closed) throw new StoreError("store_closed", "presence table is closed");
    if (this.#live) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#ready,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new StoreError("store_unavailable", "presence: table is (re)loading")),
            this.#timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  #failOverdue(): void {
    const now = performance.now();
    for (const [seq, w] of this.#waiters)
      if (w.deadline <= now) {
        this.#waiters.delete(seq);
        w.reject(
          new StoreError("store_unavailable", `presence: write ${seq} not seen by the consumer in time`),
        );
      }
  }

  #failAll(err: StoreError): void {
    for (const w of this.#waiters.values()) w.reject(err);
    this.#waiters.clear();
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
          await this.#messages?.close().catch(() => {});
        }
      }
    }
  }

  #entrySubject(room: string, user: string, owner: string): string {
    return `${this.#prefix}.e.${encodeToken(room)}.${encodeToken(user)}.${encodeToken(owner)}`;
  }

  #leaseSubject(owner: string): string {
    return `${this.#prefix}.l.${encodeToken(owner)}`;
  }
}

/** Any string as one subject token: `x` + hex of its UTF-8 (never empty, no dots or wildcards). */
function encodeToken(s: string): string {
  return `x${Buffer.from(s).toString("hex")}`;
}

function decodeToken(t: string | undefined): string {
  return Buffer.from((t ?? "x").slice(1), "hex").toString();
}

async function ensureStream(
  jsm: JetStreamManager,
  name: string,
  subject: string,
  replicas: number,
): Promise<void> {
  let info: Awaited<ReturnType<JetStreamManager["streams"]["info"]>>;
  try {
    info = await jsm.streams.info(name);
    if (info.config.allow_msg_ttl !== true) info = await jsm.streams.update(name, { allow_msg_ttl: true });
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    try {
      info = await jsm.streams.add({
        name,
        subjects: [subject],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        max_msgs_per_subject: 1,
        allow_direct: true,
        // Removals carry a TTL so the stream does not keep one per entry ever seen.
        allow_msg_ttl: true,
        num_replicas: replicas,
      });
    } catch (addErr) {
      // Another logic process may have created it a moment ago.
      info = await jsm.streams.info(name).catch(() => {
        throw addErr;
      });
    }
  }
  // A server before 2.11 may take the stream without the setting it does not know.
  if (info.config.allow_msg_ttl !== true)
    throw new StoreError(
      "store_unavailable",
      `nats: stream ${name} has no per-message TTL: presence needs nats-server 2.11 or later`,
    );
}
