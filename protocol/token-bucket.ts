/**
 * A token bucket: `ratePerSecond` tokens refill continuously up to `burst`,
 * and the bucket starts full. A few numbers and no timers, so one per
 * connection costs nothing; callers pass the clock.
 *
 * The gateway enforces its per-connection frame and signal rates and its
 * admission rate with it, and the SDK paces its writes with the same
 * arithmetic below the limits the gateway announces in `welcome`, so a
 * client that follows its pacer is never refused. It lives in protocol/
 * for that reason and imports nothing, so the browser SDK can load it.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;
  private readonly burst: number;

  constructor(ratePerSecond: number, burst: number, now: number) {
    this.perMs = ratePerSecond / 1000;
    this.burst = burst;
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Adds `n` tokens (up to `burst`): a bucket that also earns tokens by events, like a retry budget. */
  add(n: number, now: number): void {
    this.refill(now);
    this.tokens = Math.min(this.burst, this.tokens + n);
  }

  /** Milliseconds until one token is available (0 when one is). */
  waitMs(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.perMs);
  }

  private refill(now: number): void {
    const dt = now - this.last;
    if (dt > 0) {
      this.tokens = Math.min(this.burst, this.tokens + dt * this.perMs);
      this.last = now;
    }
  }
}
