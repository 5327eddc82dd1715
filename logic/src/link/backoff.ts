/**
 * Capped exponential backoff with full jitter: attempt n (from 0) waits a
 * uniformly random time in [0, min(cap, base * 2^n)). Full jitter spreads the
 * reconnects of many logic processes to one restarted gateway over the whole
 * window instead of synchronising them.
 */
export function backoffDelayMs(attempt: number, baseMs: number, capMs: number, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
