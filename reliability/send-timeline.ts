/**
 * When each send of a load run was due, how long it took to be acknowledged,
 * and when a send attempt was answered with an error: what a fault did to the
 * senders, as numbers for the table.
 *
 * Latency is measured from the moment the send was due (the load's schedule),
 * not from when the client got to it, so a stalled sender is not hidden
 * (coordinated omission).
 */
export interface FaultImpact {
  /** Send attempts answered with an error after the fault began. */
  readonly failures: number;
  /** From the fault to the first failed attempt, ms; null when none failed. */
  readonly firstFailureAfterMs: number | null;
  /** From the first failed attempt to the last, ms (0 with one or none): the window during which sends failed. */
  readonly failedForMs: number;
  /** p99 send-to-ack latency of sends due before the fault, ms. */
  readonly baselineP99Ms: number;
  /** p99 of sends due from the fault to the last failure (or to the fault's end when none failed), ms. */
  readonly faultP99Ms: number;
  /** faultP99Ms - baselineP99Ms. */
  readonly addedP99Ms: number;
  /** Slowest send due in that window, ms. */
  readonly faultMaxMs: number;
}

export class SendTimeline {
  /** [due, latency ms] of every acknowledged send. */
  readonly #acked: [number, number][] = [];
  readonly #failures: number[] = [];

  acked(dueAt: number, ackedAt: number): void {
    this.#acked.push([dueAt, ackedAt - dueAt]);
  }

  failed(at: number): void {
    this.#failures.push(at);
  }

  /** What the fault injected from faultAt to faultEnd (Date.now() values) did to the sends. */
  impact(runStart: number, faultAt: number, faultEnd: number): FaultImpact {
    const failures = this.#failures.filter((t) => t >= faultAt).sort((a, b) => a - b);
    const first = failures[0];
    const last = failures.at(-1);
    const windowEnd = last ?? faultEnd;
    const baseline = this.#latencies(runStart, faultAt);
    const during = this.#latencies(faultAt, windowEnd);
    const baselineP99Ms = percentile(baseline, 0.99);
    const faultP99Ms = percentile(during, 0.99);
    return {
      failures: failures.length,
      firstFailureAfterMs: first === undefined ? null : first - faultAt,
      failedForMs: first === undefined || last === undefined ? 0 : last - first,
      baselineP99Ms,
      faultP99Ms,
      addedP99Ms: faultP99Ms - baselineP99Ms,
      faultMaxMs: during.at(-1) ?? 0,
    };
  }

  /** Sorted latencies of sends due in [from, to]. */
  #latencies(from: number, to: number): number[] {
    return this.#acked
      .filter(([due]) => due >= from && due <= to)
      .map(([, ms]) => ms)
      .sort((a, b) => a - b);
  }
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

/** The impact in words, for the table: "sends failed for 4.2 s (from +3.1 s), p99 +5120 ms (5140 vs 20 ms)". */
export function describeImpact(i: FaultImpact): string {
  const failed =
    i.failures === 0
      ? "no send failed"
      : `sends failed for ${(i.failedForMs / 1000).toFixed(1)} s (${i.failures} failed attempts, the first ${((i.firstFailureAfterMs ?? 0) / 1000).toFixed(1)} s after the fault)`;
  return `${failed}; send-to-ack p99 ${Math.round(i.faultP99Ms)} ms during it vs ${Math.round(i.baselineP99Ms)} ms before the fault (added p99 ${Math.round(i.addedP99Ms)} ms, max ${Math.round(i.faultMaxMs)} ms)`;
}
