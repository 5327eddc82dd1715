import type { Logger } from "../../../platform/logger.ts";
import type { GatewayFleet } from "../gateway-fleet.ts";
import type { PresenceTable } from "../store/presence-table.ts";
import type { LogicMetrics } from "./logic-metrics.ts";
import { announceDepartures } from "./presence-handlers.ts";

/** How often every logic process looks for gateway epochs whose presence lease ran out. */
export const PRESENCE_SWEEP_MS = 1_000;

/**
 * Expires the presence of gateways that stopped renewing their lease (a
 * crash, a partition) and tells the rooms as the entries go. Every logic
 * process sweeps; the table hands each expired owner to exactly one of them.
 * `liveOwners` names the gateway epochs (`<id>/<epoch>`) this process has a
 * live push stream to: they are alive whatever their lease says (a renewal
 * may have failed in the store), so they are not expired. Also refreshes the
 * presence entries gauge. Returns a stop function.
 */
export function startPresenceSweep(
  table: PresenceTable,
  fleet: GatewayFleet,
  liveOwners: () => ReadonlySet<string>,
  metrics: LogicMetrics,
  log: Logger,
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    const live = liveOwners();
    table
      .expire(
        Date.now(),
        (owner) => live.has(owner),
        (gone) => announceDepartures(fleet, gone, metrics, "expiry"),
      )
      .then((gone) => {
        if (gone > 0) log.info({ departures: gone }, "expired presence of silent gateways");
        return table.entryCount();
      })
      .then((entries) => metrics.presenceEntries.set(entries))
      .catch((err: unknown) => log.warn({ err: String(err) }, "presence sweep failed"))
      .finally(() => {
        running = false;
      });
  }, PRESENCE_SWEEP_MS);
  timer.unref();
  return () => clearInterval(timer);
}
