import type { PanelSpec } from "./dashboard-spec.ts";

const R = "[$__rate_interval]";

/**
 * The panels every tier's dashboard ends with: whether its processes are
 * scraped, how often they restarted, their CPU and memory. Built from `up`
 * and the process metrics every ChatCluster process exports, so they need
 * nothing besides Prometheus (no kube-state-metrics, no cAdvisor).
 */
export function processPanels(selector: string, what: string): PanelSpec[] {
  return [
    {
      title: "Up",
      description: `1 for each ${what} process Prometheus scraped successfully, 0 for one it could not.`,
      unit: "short",
      width: 6,
      targets: [{ expr: `min by (pod) (up${selector})`, legend: "{{pod}}" }],
    },
    {
      title: "Restarts (last hour)",
      description: `Restarts of each ${what} process Prometheus saw in the last hour (a new process start time in the same pod).`,
      unit: "short",
      width: 6,
      targets: [
        { expr: `sum by (pod) (changes(process_start_time_seconds${selector}[1h]))`, legend: "{{pod}}" },
      ],
    },
    {
      title: "CPU",
      description: `CPU time each ${what} process uses per second (1 = one core).`,
      unit: "short",
      width: 6,
      targets: [{ expr: `sum by (pod) (rate(process_cpu_seconds_total${selector}${R}))`, legend: "{{pod}}" }],
    },
    {
      title: "Memory",
      description: `Resident memory of each ${what} process, and the JavaScript heap in use.`,
      unit: "bytes",
      width: 6,
      targets: [
        { expr: `sum by (pod) (process_resident_memory_bytes${selector})`, legend: "{{pod}} resident" },
        { expr: `sum by (pod) (nodejs_heap_size_used_bytes${selector})`, legend: "{{pod}} heap" },
      ],
    },
  ];
}
