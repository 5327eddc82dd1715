import type { AckFrame, ErrorFrame } from "../../protocol/client-frames.ts";
import { isRetryableError } from "../../protocol/client-frames.ts";
import { ChatClientError } from "./client-error.ts";

/** One unacknowledged send. */
export interface Pending {
  readonly room: string;
  readonly body: unknown;
  /** When it last went on the wire (0: not yet). */
  sentAt: number;
  /**
   * When the retry horizon ends (0: never handed to the socket yet). It counts
   * from the first transmission; past it the send is never written again.
   */
  expiresAt: number;
  /** Waiting in the pacer's backlog (not on the wire yet): no ack timeout runs. */
  queued: boolean;
  readonly resolve: (ack: AckFrame) => void;
  readonly reject: (err: Error) => void;
}

/**
 * Sends waiting for their ack, by message id, at most `limit` of them. A send
 * stays here across errors and reconnects and is resent with the same id
 * (the store deduplicates on it) until its ack, a refusal for good, or the
 * end of its retry horizon: the store deduplicates only within its window,
 * so a resend must never come later than `retryHorizonMs` after the first.
 */
export class Outbox {
  readonly #entries = new Map<string, Pending>();
  readonly #limit: number;
  readonly #ackTimeoutMs: number;
  readonly #retryHorizonMs: number;

  constructor(limit: number, ackTimeoutMs: number, retryHorizonMs: number) {
    this.#limit = limit;
    this.#ackTimeoutMs = ackTimeoutMs;
    this.#retryHorizonMs = retryHorizonMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Keeps a new send; rejects at once with outbox_full when `limit` are waiting. */
  add(id: string, room: string, body: unknown): Promise<AckFrame> {
    if (this.#entries.size >= this.#limit)
      return Promise.reject(new ChatClientError("outbox_full", `${this.#limit} unacknowledged sends`));
    return new Promise<AckFrame>((resolve, reject) => {
      this.#entries.set(id, { room, body, sentAt: 0, expiresAt: 0, queued: false, resolve, reject });
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
   * An error frame naming one of our sends: a retryable one is resent once
   * its hint passed (by the caller's ack-timeout check), any other rejects the
   * send. False when the id is not a send of ours.
   */
  refuse(e: ErrorFrame & { id: string }, now: number): boolean {
    const p = this.#entries.get(e.id);
    if (!p) return false;
    if (isRetryableError(e.code)) {
      p.sentAt = now - this.#ackTimeoutMs + (e.retry_after_ms ?? 1000);
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

  /** Sends on the wire without an ack for ackTimeoutMs: the caller resends them. */
  *overdue(now: number): Generator<[string, Pending]> {
    for (const entry of this.#entries) {
      const p = entry[1];
      if (!p.queued && now - p.sentAt >= this.#ackTimeoutMs) yield entry;
    }
  }

  rejectAll(err: Error): void {
    for (const p of this.#entries.values()) p.reject(err);
    this.#entries.clear();
  }
}
