import {
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { Logger } from "../../../platform/logger.ts";
import { PresenceReplica } from "./presence-replica.ts";
import type { PresenceSubjects } from "./presence-subjects.ts";
import { StoreError } from "./store-error.ts";

export interface Lease {
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

/** Longest a read waits for the replica to catch up with the stream. */
const CATCH_UP_MAX_MS = 1000;
/** Transitions kept for a publish whose ack arrives after its echo was applied. */
const RECENT_RESULTS = 16_384;
/** A tombstone's sequence is forgotten this long after it was applied (it has aged out of the stream by then). */
const FORGET_TOMBSTONE_AFTER_MS = 11 * 60_000;
const ONLINE = 0x31; // "1"
const decoder = new TextDecoder();

/**
 * Follows the presence stream with an ordered consumer and applies it, in
 * stream order, to a PresenceReplica and the lease map. A writer hands the
 * sequence of its publish to outcome() and learns what its write did (first
 * or last entry of a user in a room) when the write comes back.
 *
 * Superseded writes: the stream keeps one message per subject, so a write
 * replaced before this consumer fetched it is never seen here. Entry writes
 * are conditional on the subject's last sequence as the writer's replica saw
 * it (entrySeq), so whoever replaced a message had applied it first; a
 * skipped message's own writer learns "no change".
 */
export class PresenceFollower {
  readonly replica = new PresenceReplica();
  readonly leases = new Map<string, Lease>();
  /**
   * Sequences of removed entries (`room \0 user \0 owner`), until their
   * removal has aged out of the stream; a present entry's sequence is its
   * tag in the replica.
   */
  readonly #removedSeq = new Map<string, number>();
  /** Removals applied, oldest first, for forgetting their sequences. */
  #tombstones: { key: string; seq: number; at: number }[] = [];
  #tombstoneHead = 0;
  readonly #waiters = new Map<number, Waiter>();
  readonly #results = new Map<number, boolean>();
  readonly #catchUps: { seq: number; resolve: () => void }[] = [];
  #publishesInFlight = 0;
  #applied = 0;
  #live = false;
  #ready!: Promise<void>;
  #markReady!: () => void;
  #consumer: Consumer | undefined;
  #messages: ConsumerMessages | undefined;
  #closed = false;
  readonly #timer: NodeJS.Timeout;

  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  readonly subjects: PresenceSubjects;
  readonly timeoutMs: number;
  readonly log: Logger;

  constructor(o: {
    js: JetStreamClient;
    jsm: JetStreamManager;
    stream: string;
    subjects: PresenceSubjects;
    timeoutMs: number;
    log: Logger;
  }) {
    this.js = o.js;
    this.jsm = o.jsm;
    this.stream = o.stream;
    this.subjects = o.subjects;
    this.timeoutMs = o.timeoutMs;
    this.log = o.log;
    this.#resetReady();
    this.#timer = setInterval(() => this.#housekeeping(), 1000);
    this.#timer.unref();
    void this.#follow();
  }

  get live(): boolean {
    return this.#live;
  }

  /** Last sequence applied for an entry (0: none or aged out), for a conditional write. */
  entrySeq(room: string, user: string, owner: string): number {
    return this.replica.tagOf(room, user, owner) ?? this.#removedSeq.get(removedKey(room, user, owner)) ?? 0;
  }

  /** Overrides entrySeq after a direct read showed the stream's current message for the entry. */
  setEntrySeq(room: string, user: string, owner: string, seq: number): void {
    if (this.replica.has(room, user, owner)) this.replica.add(room, user, owner, seq);
    else if (seq === 0) this.#removedSeq.delete(removedKey(room, user, owner));
    else this.#removedSeq.set(removedKey(room, user, owner), seq);
  }

  get applied(): number {
    return this.#applied;
  }

  /** Resolves once the replica holds the whole table; StoreError after timeoutMs. */
  async whenReady(timeoutMs: number = this.timeoutMs): Promise<void> {
    if (this.#closed) throw new StoreError("store_closed", "presence table is closed");
    if (this.#live) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#ready,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new StoreError("store_unavailable", "presence: table is (re)loading")),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Wraps a publish so an echo that beats its ack (or is applied before the
   * writer asks) still finds its result: a successful publish must be
   * followed by outcome(seq), which ends its window.
   */
  async publish(run: () => Promise<number>): Promise<number> {
    this.#publishesInFlight++;
    try {
      return await run();
    } catch (err) {
      this.#publishesInFlight--;
      throw err;
    }
  }

  /** What the write at `seq` did when it was applied (true: first or last entry of a user). */
  outcome(seq: number): Promise<boolean> {
    this.#publishesInFlight--;
    if (this.#closed) return Promise.reject(new StoreError("store_closed", "presence table is closed"));
    if (seq <= this.#applied) {
      const changed = this.#results.get(seq) === true;
      this.#results.delete(seq);
      return Promise.resolve(changed);
    }
    return new Promise((resolve, reject) => {
      this.#waiters.set(seq, { resolve, reject, deadline: performance.now() + this.timeoutMs });
    });
  }

  /**
   * Waits until the replica has applied everything the server had delivered
   * or had pending for this consumer when called, so a read reflects writes
   * other processes completed before it. Bounded by CATCH_UP_MAX_MS and best
   * effort: when the consumer cannot be asked (it is being recreated after a
   * server restart) the stream's last sequence is the target, and when
   * neither answers the read goes ahead on what the replica has.
   */
  async catchUp(): Promise<void> {
    const consumer = this.#consumer;
    if (consumer === undefined) return;
    const deadline = performance.now() + CATCH_UP_MAX_MS;
    for (let round = 0; round < 3 && performance.now() < deadline; round++) {
      let target: number;
      let pending = 0;
      try {
        const ci = await consumer.info();
        target = ci.delivered.stream_seq;
        pending = ci.num_pending;
      } catch {
        try {
          target = (await this.jsm.streams.info(this.stream)).state.last_seq;
        } catch {
          return;
        }
      }
      if (target > this.#applied) await this.#waitApplied(target, deadline - performance.now());
      if (pending === 0) return;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    const err = new StoreError("store_closed", "presence table is closed");
    for (const w of this.#waiters.values()) w.reject(err);
    this.#waiters.clear();
    for (const c of this.#catchUps) c.resolve();
    this.#catchUps.length = 0;
    await this.#messages?.close().catch(() => {});
  }

  /** Drops the replica and loads the table again (after a long disconnect). */
  reload(): void {
    void this.#messages?.close().catch(() => {});
  }

  #waitApplied(seq: number, maxMs: number): Promise<void> {
    if (seq <= this.#applied || maxMs <= 0) return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    return new Promise<void>((resolve) => {
      this.#catchUps.push({ seq, resolve });
      timer = setTimeout(resolve, maxMs);
    }).finally(() => clearTimeout(timer));
  }

  #apply(subject: string, data: Uint8Array, seq: number): void {
    const s = this.subjects.parse(subject);
    let changed = false;
    if (s?.kind === "entry") {
      if (data.length === 1 && data[0] === ONLINE) {
        changed = this.replica.add(s.room, s.user, s.owner, seq);
        if (this.#removedSeq.size > 0) this.#removedSeq.delete(removedKey(s.room, s.user, s.owner));
      } else {
        changed = this.replica.remove(s.room, s.user, s.owner);
        const key = removedKey(s.room, s.user, s.owner);
        this.#removedSeq.set(key, seq);
        this.#tombstones.push({ key, seq, at: Date.now() });
      }
    } else if (s?.kind === "lease") {
      this.leases.set(s.owner, { expiresAt: Number(decoder.decode(data)) || 0, seq, seenAt: Date.now() });
    }
    // A write replaced on its subject before this consumer fetched it was
    // never applied here: its writer (if it is this process) learns "no change".
    if (seq > this.#applied + 1 && this.#waiters.size > 0)
      for (const [ws, w] of this.#waiters)
        if (ws < seq) {
          this.#waiters.delete(ws);
          w.resolve(false);
        }
    this.#applied = seq;
    if (this.#catchUps.length > 0) {
      let keep = 0;
      for (const c of this.#catchUps) {
        if (c.seq <= seq) c.resolve();
        else this.#catchUps[keep++] = c;
      }
      this.#catchUps.length = keep;
    }
    const w = this.#waiters.get(seq);
    if (w !== undefined) {
      this.#waiters.delete(seq);
      w.resolve(this.#live && changed);
    } else if (changed && this.#live && this.#publishesInFlight > 0) {
      this.#results.set(seq, true);
      if (this.#results.size > RECENT_RESULTS)
        this.#results.delete(this.#results.keys().next().value as number);
    }
  }

  /** Follows the stream from its current state (last message per subject); reloads from scratch when it ends. */
  async #follow(): Promise<void> {
    while (!this.#closed) {
      this.#reset();
      try {
        const info = await this.jsm.streams.info(this.stream);
        if (info.state.messages === 0) this.#setLive();
        const consumer = await this.js.consumers.get(this.stream, {
          filter_subjects: [`${this.subjects.base}.>`],
          deliver_policy: DeliverPolicy.LastPerSubject,
        });
        this.#consumer = consumer;
        const messages = await consumer.consume({ max_messages: 4096 });
        this.#messages = messages;
        void this.#goLiveWhenDrained(consumer, messages);
        for await (const m of messages) {
          this.#apply(m.subject, m.data, m.seq);
          if (!this.#live && m.info.pending === 0) this.#setLive();
        }
      } catch (err) {
        if (!this.#closed)
          this.log.warn({ err: String(err) }, "presence: following the table failed; reloading");
      }
      if (!this.#closed) await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Live also when the last message the load saw was removed before it was delivered. */
  async #goLiveWhenDrained(consumer: Consumer, messages: ConsumerMessages): Promise<void> {
    while (!this.#live && !this.#closed && this.#messages === messages) {
      await new Promise((r) => setTimeout(r, 200));
      try {
        const ci = await consumer.info();
        if (ci.num_pending === 0 && this.#applied >= ci.delivered.stream_seq && this.#messages === messages)
          this.#setLive();
      } catch {
        // The next round retries; #follow reports a consumer that is gone.
      }
    }
  }

  #reset(): void {
    this.replica.clear();
    this.leases.clear();
    this.#removedSeq.clear();
    this.#tombstones = [];
    this.#tombstoneHead = 0;
    this.#results.clear();
    this.#applied = 0;
    this.#consumer = undefined;
    this.#messages = undefined;
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

  #housekeeping(): void {
    const now = performance.now();
    for (const [seq, w] of this.#waiters)
      if (w.deadline <= now) {
        this.#waiters.delete(seq);
        w.reject(
          new StoreError("store_unavailable", `presence: write ${seq} not seen by the consumer in time`),
        );
      }
    const forgetBefore = Date.now() - FORGET_TOMBSTONE_AFTER_MS;
    const t = this.#tombstones;
    while (this.#tombstoneHead < t.length && (t[this.#tombstoneHead]?.at ?? 0) < forgetBefore) {
      const old = t[this.#tombstoneHead++] as { key: string; seq: number };
      if (this.#removedSeq.get(old.key) === old.seq) this.#removedSeq.delete(old.key);
    }
    if (this.#tombstoneHead > 4096 && this.#tombstoneHead * 2 > t.length) {
      this.#tombstones = t.slice(this.#tombstoneHead);
      this.#tombstoneHead = 0;
    }
  }
}

function removedKey(room: string, user: string, owner: string): string {
  // Room names and user ids never contain NUL.
  return `${room}\0${user}\0${owner}`;
}
