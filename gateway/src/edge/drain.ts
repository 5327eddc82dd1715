import { encodeReconnectFrame } from "../../../protocol/client-frames.ts";
import { CLOSE_CODES } from "../../../protocol/close-codes.ts";
import type { Connection } from "./connection.ts";
import { planReconnectDelays } from "./drain-plan.ts";
import type { EdgeCore } from "./edge-core.ts";

/**
 * Graceful drain of an edge already in the "draining" phase: connections
 * still authenticating are closed; every open client gets a `reconnect` hint
 * at a time spread over windowMs (drain-plan.ts) while deliveries continue;
 * those left at the end of the window are closed with `draining`, and after
 * closeGraceMs terminated. Then the epoch's presence lease is released.
 */
export async function drainEdge(core: EdgeCore, windowMs: number, random: () => number): Promise<void> {
  const { conns, metrics, log } = core;
  const started = Date.now();
  for (const c of [...core.pending]) core.closeConn(c, CLOSE_CODES.draining, "draining");
  const open: Connection[] = [];
  for (const c of conns.values()) if (c.state === "open") open.push(c);
  const delays = planReconnectDelays(open.length, windowMs, random);
  open.forEach((c, i) => {
    core.send(c, encodeReconnectFrame(delays[i] as number));
  });
  metrics.drainRemaining.set(conns.size);
  log.info({ clients: open.length, windowMs }, "draining: reconnect hints sent");
  await core.waitForEmpty(windowMs);
  for (const c of [...conns.values()]) core.closeConn(c, CLOSE_CODES.draining, "draining");
  await core.waitForEmpty(core.limits.closeGraceMs);
  for (const c of [...conns.values()]) c.ws.terminate();
  await core.waitForEmpty(100);
  // Clients reconnected elsewhere during the window; what is still pending
  // goes now, and the epoch's lease is released.
  core.reporter.release();
  metrics.drainRemaining.set(conns.size);
  log.info({ ms: Date.now() - started, remaining: conns.size }, "drained");
}
