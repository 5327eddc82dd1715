import type { Logger } from "../../../platform/logger.ts";
import type { GatewayFleet } from "../gateway-fleet.ts";
import type { PresenceTable } from "../store/presence-table.ts";
import type { LogicMetrics } from "./logic-metrics.ts";
import { announceDepartures } from "./presence-handlers.ts";

/** How often every logic process looks for gateway epochs whose presence lease ran out. */
export const PRESENCE_SWEEP_MS = 1_000;

/**
 * Expires the presence of gateways that stopped renewing their lease (a
 * crash, a partition) and tells the rooms. Every logic process sweeps; the
 * table's write transaction hands each expired entry to exactly one of them.
 * Also refreshes the presence entries gauge. Returns a stop function.
 */
export function startPresenceSweep(
  table: PresenceTable,
  fleet: GatewayFleet,
  metrics: LogicMetrics,
  log: Logger,
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    table
      .expire(Date.now())
      .then((gone) => {
        if (gone.length > 0) log.info({ departures: gone.length }, "expired presence of silent gateways");
        announceDepartures(fleet, gone, metrics, "expiry");
        return table.entryCount();
      })
      .then((entries) => metrics.presenceEntries.set(entries))
      .catch((err: unknown) => log.warn({ err }, "presence sweep failed"))
      .finally(() => {
        running = false;
      });
  }, PRESENCE_SWEEP_MS);
  timer.unref();
  return () => clearInterval(timer);
}
