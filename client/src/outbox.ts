import { type BackoffOptions, backoffDelayMs } from "../../protocol/backoff.ts";
import type { AckFrame, ErrorFrame } from "../../protocol/client-frames.ts";
import { isRetryableError } from "../../protocol/client-frames.ts";
import { ChatClientError } from "./client-error.ts";

/** A refusal without a hint is retried after about this long (plus the jitter). */
const DEFAULT_HINT_MS = 1000;
/** The jitter added to a refused send's hint: full jitter over a ceiling that doubles with its refusals. */
const RETRY_JITTER: BackoffOptions = Object.freeze({ initialMs: 250, maxMs: 15_000 });

/** What an outbox entry writes (with its id): a send, or an edit or a delete of the message `target`. */
export type OutboxFrame =
  | { readonly type: "send"; readonly room: string; readonly body: unknown }
  | { readonly type: "edit"; readonly room: string; readonly target: number; readonly body: unknown }
  | { readonly type: "delete"; readonly room: string; readonly target: number };

/** One unacknowledged send, edit or delete. */
export interface Pending {
  readonly frame: OutboxFrame;
  /** When it last went on the wire (0: not yet). */
  sentAt: number;
  /**
   * When the retry horizon ends (0: never handed to the socket yet). It counts
   * from the first transmission; past it the send is never written again.
   */
  expiresAt: number;
  /** Waiting in the pacer's backlog (not on the wire yet): no ack timeout runs. */
  queued: boolean;
  /** Retryable refusals so far. */
  refusals: number;
  /** When a refused send may go again (0: not refused; the ack timeout applies). */
  retryAt: number;
  readonly resolve: (ack: AckFrame) => void;
  readonly reject: (err: Error) => void;
}

/**
 * Sends, edits and deletes waiting for their ack, by id, at most `limit` of
 * them. Each stays here across errors and reconnects and is resent with the
 * same id (the store deduplicates on it) until its ack, a refusal for good,
 * or the end of its retry horizon: the store deduplicates only within its
 * window, so a resend must never come later than `retryHorizonMs` after the
 * first.
 */
export class Outbox {
  readonly #entries = new Map<string, Pending>();
  readonly #limit: number;
  readonly #ackTimeoutMs: number;
  readonly #retryHorizonMs: number;
  readonly #random: () => number;

  constructor(
    limit: number,
    ackTimeoutMs: number,
    retryHorizonMs: number,
    random: () => number = Math.random,
  ) {
    this.#limit = limit;
    this.#ackTimeoutMs = ackTimeoutMs;
    this.#retryHorizonMs = retryHorizonMs;
    this.#random = random;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Keeps a new send (or edit, or delete); rejects at once with outbox_full when `limit` are waiting. */
  add(id: string, frame: OutboxFrame): Promise<AckFrame> {
    if (this.#entries.size >= this.#limit)
      return Promise.reject(new ChatClientError("outbox_full", `${this.#limit} unacknowledged sends`));
    return new Promise<AckFrame>((resolve, reject) => {
      this.#entries.set(id, {
        frame,
        sentAt: 0,
        expiresAt: 0,
        queued: false,
        refusals: 0,
        retryAt: 0,
        resolve,
        reject,
      });
    });
  }

  get(id: string): Pending | undefined {
    return this.#entries.get(id);
  }

  entries(): IterableIterator<[string, Pending]> {
    return this.#entries.entries();
  }

  ack(frame: AckFrame): void {
    const p = this.#entries.get(frame.id);
    if (!p) return;
    this.#entries.delete(frame.id);
    p.resolve(frame);
  }

  /**
   * An error frame naming one of our sends: a retryable one is due again
   * after the server's hint plus full jitter over a ceiling that doubles with
   * each refusal of that send (so clients refused together come back spread
   * out, and a send refused again and again backs off); any other rejects
   * the send. False when the id is not a send of ours.
   */
  refuse(e: ErrorFrame & { id: string }, now: number): boolean {
    const p = this.#entries.get(e.id);
    if (!p) return false;
    if (isRetryableError(e.code)) {
      const hint = e.retry_after_ms ?? DEFAULT_HINT_MS;
      p.retryAt = now + hint + backoffDelayMs(p.refusals++, RETRY_JITTER, this.#random);
    } else {
      this.#entries.delete(e.id);
      p.reject(new ChatClientError("rejected", `${e.code}: ${e.message}`));
    }
    return true;
  }

  /** The send was handed to the socket (written or queued in the pacer): its horizon starts, once. */
  transmitted(p: Pending, now: number): void {
    p.sentAt = now;
    if (p.expiresAt === 0) p.expiresAt = now + this.#retryHorizonMs;
  }

  /** Rejects (as `expired`) and forgets every send whose horizon has passed, online or not. */
  expire(now: number): void {
    for (const [id, p] of this.#entries) {
      if (p.expiresAt === 0 || now < p.expiresAt) continue;
      this.#entries.delete(id);
      p.reject(
        new ChatClientError(
          "expired",
          `${id}: not acknowledged within ${this.#retryHorizonMs} ms of its first transmission; it may have been stored and will not be resent`,
        ),
      );
    }
  }

  /**
   * Sends due again: refused ones whose retry time came, and ones on the wire
   * without an ack for ackTimeoutMs. The caller resends them (within its
   * retry budget) or puts them off with later().
   */
  *overdue(now: number): Generator<[string, Pending]> {
    for (const entry of this.#entries) {
      const p = entry[1];
      if (p.queued) continue;
      if (p.retryAt !== 0 ? p.retryAt <= now : now - p.sentAt >= this.#ackTimeoutMs) yield entry;
    }
  }

  /** Puts a due send off until `at` (the retry budget is empty). */
  later(p: Pending, at: number): void {
    p.retryAt = at;
  }

  /** The earliest time a refused send is due (Infinity when none is). */
  nextRetryAt(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const p of this.#entries.values()) if (p.retryAt !== 0 && p.retryAt < next) next = p.retryAt;
    return next;
  }

  rejectAll(err: Error): void {
    for (const p of this.#entries.values()) p.reject(err);
    this.#entries.clear();
  }
}
