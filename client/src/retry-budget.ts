import { TokenBucket } from "../../protocol/token-bucket.ts";

export interface RetryBudgetOptions {
  /** Retries each first send earns (default 0.2: retries add at most a fifth to what the app sends). */
  ratio: number;
  /** Retries allowed per second whatever was sent (default 1), so a quiet client can still retry. */
  minPerSecond: number;
  /** Most retries saved up (default 20). */
  max: number;
}

export const DEFAULT_RETRY_BUDGET: Readonly<RetryBudgetOptions> = Object.freeze({
  ratio: 0.2,
  minPerSecond: 1,
  max: 20,
});

/**
 * How many retries this client may make: a token bucket that refills at
 * minPerSecond and earns `ratio` of a token per first send (the retry budget
 * of gRPC's retry throttling and Finagle). When a server refuses because it
 * is overloaded, every client retrying everything it was refused multiplies
 * the load the server just shed; with the budget, retries stay a fraction of
 * the client's own traffic, and the rest wait (they are not dropped) until
 * the budget has a retry again.
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #bucket: TokenBucket;

  constructor(o: RetryBudgetOptions, now: number) {
    this.#ratio = o.ratio;
    this.#bucket = new TokenBucket(o.minPerSecond, o.max, now);
  }

  /** A send went out for the first time. */
  earn(now: number): void {
    this.#bucket.add(this.#ratio, now);
  }

  /** Takes a retry if the budget has one. */
  take(now: number): boolean {
    return this.#bucket.take(now);
  }

  /** Milliseconds until the budget has a retry (0 when it has one). */
  waitMs(now: number): number {
    return this.#bucket.waitMs(now);
  }
}
