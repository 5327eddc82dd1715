/** Capped exponential backoff with full jitter: a uniform delay in [0, min(cap, base * 2^attempt)). */
export interface BackoffOptions {
  /** First ceiling in ms (default 500). */
  initialMs: number;
  /** Largest ceiling in ms (default 30 000). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ initialMs: 500, maxMs: 30_000 });

export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const ceiling = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
