import { type MetricObjectWithValues, type MetricValue, Registry } from "prom-client";
import { createGatewayMetrics } from "../gateway/src/edge/gateway-metrics.ts";
import { createGatewayLinkMetrics } from "../gateway/src/link/link-metrics.ts";
import { createDiscoveryMetrics } from "../logic/src/discovery/discovery-metrics.ts";
import { createLogicMetrics } from "../logic/src/handlers/logic-metrics.ts";
import { createHookMetrics } from "../logic/src/hooks/hook-metrics.ts";
import { createPushMetrics } from "../logic/src/link/push-metrics.ts";
import { createModerationMetrics } from "../logic/src/moderation/moderation-metrics.ts";
import { createOperatorMetrics } from "../operator/src/operator-metrics.ts";
import { createInternalTlsMetrics } from "../platform/internal-tls.ts";

/** One metric as documented in docs/metrics.md. */
export interface MetricEntry {
  readonly component: "gateway" | "logic" | "operator" | "every process";
  readonly name: string;
  readonly type: string;
  readonly unit: string;
  readonly labels: readonly string[];
  readonly help: string;
}

/**
 * Every ChatCluster metric, read from the same factories the workloads call,
 * so the catalogue cannot drift from the code.
 */
export async function metricCatalog(): Promise<MetricEntry[]> {
  const sets: [MetricEntry["component"], (r: Registry) => void][] = [
    [
      "gateway",
      (r) => {
        createGatewayMetrics(r);
        createGatewayLinkMetrics(r, () => ({ events: 0, bytes: 0 }));
        createInternalTlsMetrics(r, "chatcluster_gateway_link");
      },
    ],
    [
      "logic",
      (r) => {
        createLogicMetrics(r);
        createHookMetrics(r);
        createModerationMetrics(r);
        createPushMetrics(r);
        createInternalTlsMetrics(r, "chatcluster_logic_push");
        createDiscoveryMetrics(r);
      },
    ],
    ["operator", (r) => void createOperatorMetrics(r)],
  ];
  const out: MetricEntry[] = [
    {
      component: "every process",
      name: "chatcluster_build_info",
      type: "gauge",
      unit: "",
      labels: ["role", "version"],
      help: "Constant 1, labelled with the role (gateway, logic, operator) and version of this process.",
    },
  ];
  for (const [component, register] of sets) {
    const registry = new Registry();
    register(registry);
    const metrics = (await registry.getMetricsAsJSON()) as MetricObjectWithValues<MetricValue<string>>[];
    for (const m of metrics.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const labelNames =
        (registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] }).labelNames ?? [];
      out.push({
        component,
        name: m.name,
        type: String(m.type),
        unit: unitOf(m.name),
        labels: labelNames.filter((l) => l !== "le"),
        help: m.help,
      });
    }
  }
  return out;
}

function unitOf(name: string): string {
  if (name.endsWith("_seconds")) return "seconds";
  if (/_bytes(_|$)/.test(name)) return "bytes";
  return "";
}
