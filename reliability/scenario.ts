import assert from "node:assert/strict";
import { LoadDriver, type LoadReport } from "./load-driver.ts";
import { recordResult } from "./results.ts";
import { describeImpact, type FaultImpact } from "./send-timeline.ts";
import type { ReliabilityStack } from "./stack.ts";

/**
 * The steady load every chaos scenario holds. `make test-reliability` sets
 * CHATCLUSTER_RELIABILITY_LOAD=full: 500 SDK clients in rooms of 10 sending
 * 1,000 msg/s in all (10,000 deliveries/s). Under `make test` the same
 * scenarios run at a trickle that 2 shared cores carry beside the other suites.
 */
export const LOAD =
  process.env.CHATCLUSTER_RELIABILITY_LOAD === "full"
    ? ({ clients: 500, rooms: 50, ratePerSecond: 1000 } as const)
    : ({ clients: 20, rooms: 4, ratePerSecond: 40 } as const);
const BEFORE_MS = 4_000;
const AFTER_MS = 6_000;

export interface Scenario {
  readonly id: string;
  readonly fault: string;
  /** Injects the fault; resolves when the system should be whole again. */
  inject(): Promise<void>;
  /** Zero client disconnects required (a logic roll must not touch a WebSocket). */
  readonly noDisconnects?: boolean;
  /**
   * Describes what the system did, for the table; `resent` = events the
   * gateways resent to another logic process, `impact` = what the fault did
   * to the senders (failure window, added latency).
   */
  outcome(report: LoadReport, resent: number, impact: FaultImpact): string;
  /** Append the failure window and the added p99 latency to the outcome. */
  readonly measureImpact?: boolean;
  /** Extra checks on the report. */
  check?(report: LoadReport, resent: number, impact: FaultImpact): void;
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
    // 500 clients connect and join on a shared CPU: allow for it.
    await driver.connect(120_000);
    const resentBefore = await gatewayResent(rs);
    driver.start();
    const loadStart = Date.now();
    await new Promise((r) => setTimeout(r, BEFORE_MS));
    const faultAt = Date.now();
    await s.inject();
    const faultEnd = Date.now();
    await new Promise((r) => setTimeout(r, AFTER_MS));
    const sendSeconds = (Date.now() - loadStart) / 1000;
    await driver.stop();
    const report = driver.verify();
    const resent = (await gatewayResent(rs)) - resentBefore;
    const impact = driver.timeline.impact(loadStart, faultAt, faultEnd);
    const outcome = s.outcome(report, resent, impact);
    recordResult({
      id: s.id,
      kind: "chaos",
      load: `${LOAD.clients} SDK clients in ${LOAD.rooms} rooms of ${LOAD.clients / LOAD.rooms}, ${LOAD.ratePerSecond} msg/s offered (${report.sent} sent in ${sendSeconds.toFixed(1)} s: ${Math.round(report.sent / sendSeconds)}/s; ${report.acked} acked; driver event-loop delay p99 ${report.loopDelayP99Ms} ms)`,
      fault: s.fault,
      outcome: s.measureImpact ? `${outcome}; ${describeImpact(impact)}` : outcome,
      lost: report.lost,
      durationMs: Date.now() - started,
      ...(s.measureImpact ? { impact } : {}),
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
    s.check?.(report, resent, impact);
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
