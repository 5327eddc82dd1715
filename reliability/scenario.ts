import assert from "node:assert/strict";
import { LoadDriver, type LoadReport } from "./load-driver.ts";
import { recordResult } from "./results.ts";
import type { ReliabilityStack } from "./stack.ts";

/** The steady load every chaos scenario holds: small enough for 2 shared cores, busy enough to be mid-flight. */
export const LOAD = { clients: 20, rooms: 4, ratePerSecond: 40 } as const;
const BEFORE_MS = 4_000;
const AFTER_MS = 6_000;

export interface Scenario {
  readonly id: string;
  readonly fault: string;
  /** Injects the fault; resolves when the system should be whole again. */
  inject(): Promise<void>;
  /** Zero client disconnects required (a logic roll must not touch a WebSocket). */
  readonly noDisconnects?: boolean;
  /** Describes what the system did, for the table; `resent` = events the gateways resent to another logic process. */
  outcome(report: LoadReport, resent: number): string;
  /** Extra checks on the report. */
  check?(report: LoadReport, resent: number): void;
}

/**
 * Runs load, injects the fault under it, keeps the load on a while, then
 * checks that every acknowledged message reached every client exactly once,
 * in order, and records the row.
 */
export async function runScenario(rs: ReliabilityStack, s: Scenario): Promise<LoadReport> {
  const started = Date.now();
  const tokens = new Set<string>();
  const driver = new LoadDriver({
    urls: rs.stack.gatewayUrls,
    ...LOAD,
    roomPrefix: s.id,
    token: async (user) => {
      const t = await rs.token(user);
      tokens.add(t);
      return t;
    },
  });
  try {
    await driver.connect();
    const resentBefore = await gatewayResent(rs);
    driver.start();
    await new Promise((r) => setTimeout(r, BEFORE_MS));
    await s.inject();
    await new Promise((r) => setTimeout(r, AFTER_MS));
    await driver.stop();
    const report = driver.verify();
    const resent = (await gatewayResent(rs)) - resentBefore;
    recordResult({
      id: s.id,
      kind: "chaos",
      load: `${LOAD.clients} SDK clients x ${LOAD.rooms} rooms, ${LOAD.ratePerSecond} msg/s (${report.acked} acked)`,
      fault: s.fault,
      outcome: s.outcome(report, resent),
      lost: report.lost,
      durationMs: Date.now() - started,
    });
    const summary = JSON.stringify({ ...report, problems: report.problems.slice(0, 8) });
    assert.equal(report.lost, 0, `acked messages lost: ${summary}`);
    assert.equal(report.duplicates, 0, `duplicates: ${summary}`);
    assert.equal(report.orderViolations, 0, `order: ${summary}`);
    assert.equal(report.rejected, 0, `sends rejected for good: ${summary}`);
    assert.equal(report.acked, report.sent, `every send acked: ${summary}`);
    if (s.noDisconnects) assert.equal(report.disconnects, 0, `client disconnects: ${summary}`);
    // Faults drive the error paths, where a careless log line would carry a token or a secret.
    assert.deepEqual(rs.leaks(tokens), [], "secrets or tokens in the processes' logs");
    s.check?.(report, resent);
    return report;
  } finally {
    driver.close();
  }
}

/**
 * Events the gateways resent to another logic process so far (summed over the
 * gateways; a restarted gateway starts from 0, so only meaningful while none restarts).
 */
async function gatewayResent(rs: ReliabilityStack): Promise<number> {
  let sum = 0;
  for (const t of rs.stack.opsTargets.filter((x) => x.role === "gateway")) {
    const text = await fetch(`http://${t.address}/metrics`).then(
      (r) => r.text(),
      () => "",
    );
    for (const line of text.split("\n")) {
      if (line.startsWith("chatcluster_gateway_link_events_resent_total"))
        sum += Number(line.split(" ").at(-1));
    }
  }
  return sum;
}
