import { StoreHealthProbe } from "../../platform/jetstream-health.ts";
import type { Logger } from "../../platform/logger.ts";
import type { OperatorConfig } from "./config.ts";
import type { OperatorMetrics } from "./operator-metrics.ts";
import { StoreHealthMonitor } from "./store-health-monitor.ts";

/** Each JetStream API request (and connecting); three per check, one per stream. */
const PROBE_TIMEOUT_MS = 5000;
/** A whole check: a NATS that hangs gives Unreachable after this, never a stuck loop. */
const CHECK_TIMEOUT_MS = 20_000;

/** The operator's monitor: real probes, results exported as chatcluster_operator_store_degraded. */
export function createStoreHealthMonitor(
  config: Pick<OperatorConfig, "storeHealthInterval">,
  metrics: OperatorMetrics,
  log: Logger,
  onChange: (key: string) => void,
): StoreHealthMonitor {
  return new StoreHealthMonitor({
    open: (t) =>
      StoreHealthProbe.open({
        servers: t.servers,
        stream: t.stream,
        timeoutMs: PROBE_TIMEOUT_MS,
        name: "chatcluster-operator-store-health",
      }),
    intervalMs: config.storeHealthInterval,
    checkTimeoutMs: CHECK_TIMEOUT_MS,
    onChange,
    onResult: (key, health) => {
      const slash = key.indexOf("/");
      const labels = { namespace: key.slice(0, slash), chatcluster: key.slice(slash + 1) };
      if (health === undefined) metrics.storeDegraded.remove(labels);
      else metrics.storeDegraded.set(labels, health.state === "degraded" ? 1 : 0);
    },
    log: log.child({ part: "store-health" }),
  });
}
