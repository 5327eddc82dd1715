import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FaultImpact } from "./send-timeline.ts";

/** One row of the table in docs/reliability.md: a scenario or an input class, as measured. */
export interface ResultRow {
  /** Stable id, also the file name (`chaos-a-logic-roll`). */
  readonly id: string;
  readonly kind: "chaos" | "hostile input" | "security";
  readonly load: string;
  readonly fault: string;
  readonly outcome: string;
  /** Acknowledged messages some subscriber never got (goal 0); null where no chat load ran. */
  readonly lost: number | null;
  readonly durationMs: number;
  /** What the fault did to the senders: the window during which sends failed and the added p99 latency. */
  readonly impact?: FaultImpact;
}

/**
 * Writes a row when `make test-reliability` asked for them
 * (CHATCLUSTER_RELIABILITY_OUT=<dir>); under plain `make test` the same
 * scenarios only assert.
 */
export function recordResult(row: ResultRow): void {
  const dir = process.env.CHATCLUSTER_RELIABILITY_OUT;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${row.id}.json`), `${JSON.stringify(row, null, 2)}\n`);
}
