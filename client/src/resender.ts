import type { Outbox, Pending } from "./outbox.ts";
import { DEFAULT_RETRY_BUDGET, RetryBudget, type RetryBudgetOptions } from "./retry-budget.ts";

/**
 * Resends of the outbox's sends that are due again (refused with a
 * retryable error once their hint and jitter passed, or unanswered past the
 * ack timeout), within the client's retry budget. Refused sends get a timer
 * of their own, for the earliest one due: the client's one-second tick would
 * otherwise round every jittered retry to its next tick. Due sends the budget
 * has no retry for are put off, spread over a second.
 */
export class Resender {
  readonly #outbox: Outbox;
  readonly #budget: RetryBudget;
  readonly #random: () => number;
  /** Sends a pending entry now; false when there is no open connection (the next welcome resends it). */
  readonly #send: (id: string, p: Pending) => boolean;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(
    outbox: Outbox,
    budget: Partial<RetryBudgetOptions>,
    random: () => number,
    send: (id: string, p: Pending) => boolean,
  ) {
    this.#outbox = outbox;
    this.#budget = new RetryBudget({ ...DEFAULT_RETRY_BUDGET, ...budget }, Date.now());
    this.#random = random;
    this.#send = send;
  }

  /** A send went out for the first time: it earns the budget a share of a retry. */
  earn(): void {
    this.#budget.earn(Date.now());
  }

  /** A send was refused (retryable): its retry time is set in the outbox; make sure a timer covers it. */
  refused(): void {
    this.#arm();
  }

  /** Resends what is due while the budget allows (called by the timer and the client's tick). */
  resendDue(): void {
    const now = Date.now();
    for (const [id, p] of this.#outbox.overdue(now)) {
      if (!this.#budget.take(now)) {
        this.#outbox.later(p, now + this.#budget.waitMs(now) + Math.floor(this.#random() * 1000));
        continue;
      }
      if (!this.#send(id, p)) break;
    }
    this.#arm();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #arm(): void {
    const at = this.#outbox.nextRetryAt();
    if (at === Number.POSITIVE_INFINITY || at >= this.#timerAt) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.resendDue();
      },
      Math.max(0, at - Date.now()),
    );
  }
}
