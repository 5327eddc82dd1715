/**
 * The `retry_after_ms` of a refusal caused by a backlog: twice the delay the
 * server measured (so that the backlog has drained when the retry comes),
 * clamped to [100 ms, 15 s], then jittered over [0.5, 1.5) of that, so that
 * clients refused together do not come back together. Logic hints after its
 * appends' queue delay, the gateway after the age of its oldest event logic
 * has not answered. Clients add their own full jitter on top (the SDK's
 * outbox), so a fixed hint would not synchronise them either; this keeps the
 * waves apart even for clients that honour the hint to the millisecond.
 */
export const MIN_RETRY_HINT_MS = 100;
export const MAX_RETRY_HINT_MS = 15_000;

export function retryHintMs(delayMs: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_RETRY_HINT_MS, Math.max(MIN_RETRY_HINT_MS, 2 * delayMs));
  return Math.round(base * (0.5 + random()));
}
