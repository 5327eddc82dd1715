import { collectDefaultMetrics, Gauge, Registry } from "prom-client";

/**
 * One registry per process, created by the composition root and passed to each
 * component's `createXMetrics(registry)`. Nothing registers on import, so tests
 * can build as many isolated components in one process as they like.
 */
export function createMetricsRegistry(component: string, version: string): Registry {
  const registry = new Registry();
  // process_* and nodejs_* (including nodejs_eventloop_lag_seconds and GC timings).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const info = new Gauge({
    name: "chatcluster_build_info",
    help: "Constant 1, labelled with the role (gateway, logic, operator) and version of this process.",
    labelNames: ["role", "version"] as const,
    registers: [registry],
  });
  info.set({ role: component, version }, 1);
  return registry;
}
