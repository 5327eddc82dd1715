/**
 * Capped exponential backoff: attempt n (from 0) has the ceiling
 * min(maxMs, initialMs * 2^n), and a full-jitter delay is uniform in
 * [0, ceiling). Full jitter spreads the retries of many peers that failed
 * together (clients of a gateway that went away, logic processes facing a
 * restarted gateway) over the whole window instead of synchronising them.
 *
 * One curve for every retry in the project: the SDK's reconnects (the
 * `backoff` policy of protocol/close-codes.ts), logic's push-stream
 * reconnects and discovery watch restarts, the operator's requeues and
 * informer restarts. It lives in protocol/ because clients follow it too,
 * and it imports nothing, so the browser SDK can load it.
 */
export interface BackoffOptions {
  /** Ceiling of the first attempt, in ms. */
  initialMs: number;
  /** Largest ceiling, in ms. */
  maxMs: number;
}

/** Doublings past this add nothing (2^30 times any sane initial delay exceeds any cap) and keep the arithmetic finite. */
const MAX_DOUBLINGS = 30;

/** The ceiling of attempt `attempt` (from 0): min(maxMs, initialMs * 2^attempt). */
export function backoffCeilingMs(attempt: number, opts: Readonly<BackoffOptions>): number {
  return Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(Math.max(0, attempt), MAX_DOUBLINGS));
}

/** A full-jitter delay for attempt `attempt`: an integer uniform in [0, ceiling). */
export function backoffDelayMs(
  attempt: number,
  opts: Readonly<BackoffOptions>,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCeilingMs(attempt, opts));
}
