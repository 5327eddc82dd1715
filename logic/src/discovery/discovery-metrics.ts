import { Counter, Gauge, type Registry } from "prom-client";

export interface DiscoveryMetrics {
  readonly events: Counter<"kind">;
  readonly endpoints: Gauge;
}

const EVENT_KINDS = ["add", "update", "delete", "connect", "error", "restart"] as const;

export function createDiscoveryMetrics(registry: Registry): DiscoveryMetrics {
  const events = new Counter({
    name: "chatcluster_logic_discovery_events_total",
    help: "Gateway discovery events: EndpointSlice add/update/delete, watch (re)connects, errors and restarts.",
    labelNames: ["kind"] as const,
    registers: [registry],
  });
  for (const kind of EVENT_KINDS) events.inc({ kind }, 0);
  const endpoints = new Gauge({
    name: "chatcluster_logic_discovery_endpoints",
    help: "Gateway endpoints currently discovered: every gateway pod with an address, ready or not.",
    registers: [registry],
  });
  return { events, endpoints };
}
