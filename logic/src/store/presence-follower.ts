import {
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { Logger } from "../../../platform/logger.ts";
import { FORGET_REMOVAL_AFTER_MS, PresenceRemovals } from "./presence-removals.ts";
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
/**
 * The consumer's pull window. Its server sends a heartbeat every half of it,
 * and the client notices a consumer that went quiet after two missed ones.
 */
const PULL_EXPIRES_MS = 4000;
/**
 * Nothing applied for this long while a write waits for its echo (or a read
 * found the stream ahead of the replica): the consumer is suspected stuck,
 * e.g. it lived on a cluster node that died, and is replaced if the stream
 * has moved on.
 */
const STALL_MS = 2000;
/** Transitions kept for a publish whose ack arrives after its echo was applied. */
const RECENT_RESULTS = 16_384;
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
  /** Sequences of removed entries, until their removal has aged out of the stream. */
  readonly #removed = new PresenceRemovals();
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
  /** When the last message was applied (performance.now()). */
  #progressAt = 0;
  /** A read found the stream ahead of the replica: check the consumer on the next housekeeping. */
  #behind = false;
  /** Replace the consumer and go on from the last applied sequence, keeping the replica. */
  #resume = false;
  #checking = false;
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
    return this.replica.tagOf(room, user, owner) ?? this.#removed.seqOf(room, user, owner) ?? 0;
  }

  /** Overrides entrySeq after a direct read showed the stream's current message for the entry. */
  setEntrySeq(room: string, user: string, owner: string, seq: number): void {
    if (this.replica.has(room, user, owner)) this.replica.add(room, user, owner, seq);
    else this.#removed.set(room, user, owner, seq);
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
      if (target > this.#applied) this.#behind = true;
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
        this.#removed.delete(s.room, s.user, s.owner);
      } else {
        changed = this.replica.remove(s.room, s.user, s.owner);
        this.#removed.removed(s.room, s.user, s.owner, seq, Date.now());
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
    this.#progressAt = performance.now();
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

  /**
   * Follows the stream from its current state (last message per subject);
   * reloads from scratch when the consumer ends, or, when the stall check
   * replaced a stuck consumer, goes on after the last applied sequence.
   */
  async #follow(): Promise<void> {
    while (!this.#closed) {
      const resumeAt = this.#resume && this.#live ? this.#applied + 1 : 0;
      this.#resume = false;
      if (resumeAt === 0) this.#reset();
      try {
        if (resumeAt === 0) {
          const info = await this.jsm.streams.info(this.stream);
          if (info.state.messages === 0) this.#setLive();
        }
        const consumer = await this.js.consumers.get(this.stream, {
          filter_subjects: [`${this.subjects.base}.>`],
          ...(resumeAt === 0
            ? { deliver_policy: DeliverPolicy.LastPerSubject }
            : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: resumeAt }),
        });
        this.#consumer = consumer;
        const messages = await consumer.consume({ max_messages: 4096, expires: PULL_EXPIRES_MS });
        this.#messages = messages;
        this.#progressAt = performance.now();
        if (resumeAt > 0) this.log.info({ from: resumeAt }, "presence: following the table again");
        void this.#goLiveWhenDrained(consumer, messages);
        for await (const m of messages) {
          this.#apply(m.subject, m.data, m.seq);
          if (!this.#live && m.info.pending === 0) this.#setLive();
        }
      } catch (err) {
        if (!this.#closed)
          this.log.warn({ err: String(err) }, "presence: following the table failed; reloading");
      }
      if (!this.#closed && !this.#resume) await new Promise((r) => setTimeout(r, 500));
    }
  }

  /**
   * The stall check: a consumer on a cluster node that died keeps the client
   * waiting (its info requests go unanswered, so the client library never
   * learns it is gone). When nothing was applied for STALL_MS while a write
   * waits for its echo or a read found the replica behind, and the stream
   * (asked through its leader) has moved past what was applied, the consumer
   * is dropped and a new one starts after the last applied sequence: the
   * replica stays, and so do the writes waiting for their outcome.
   */
  async #checkStall(): Promise<void> {
    const waiting = this.#waiters.size > 0 || this.#behind;
    if (!this.#live || this.#checking || !waiting || performance.now() - this.#progressAt < STALL_MS) return;
    this.#checking = true;
    this.#behind = false;
    try {
      const last = (await this.jsm.streams.info(this.stream)).state.last_seq;
      const messages = this.#messages;
      if (
        last > this.#applied &&
        messages !== undefined &&
        performance.now() - this.#progressAt >= STALL_MS
      ) {
        this.log.warn(
          { applied: this.#applied, streamLast: last },
          "presence: the table's consumer stalled; replacing it",
        );
        this.#resume = true;
        this.#messages = undefined;
        void messages.close().catch(() => {});
      }
    } catch {
      // No leader to ask right now (an election): the next tick asks again.
    } finally {
      this.#checking = false;
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
    this.#removed.clear();
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
    void this.#checkStall();
    const now = performance.now();
    for (const [seq, w] of this.#waiters)
      if (w.deadline <= now) {
        this.#waiters.delete(seq);
        w.reject(
          new StoreError("store_unavailable", `presence: write ${seq} not seen by the consumer in time`),
        );
      }
    this.#removed.forget(Date.now() - FORGET_REMOVAL_AFTER_MS);
  }
}
