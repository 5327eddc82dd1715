import type { KubernetesObject } from "@kubernetes/client-node";
import type { ChatCluster } from "../api/chatcluster-types.ts";
import type { ResolvedSpec } from "../api/defaults.ts";
import { type ChildNames, childMeta, INSTANCE_LABEL, METRICS_LABEL, NAME_LABEL } from "./names.ts";

export const SERVICE_MONITOR_API_VERSION = "monitoring.coreos.com/v1";

export interface ServiceMonitor extends KubernetesObject {
  spec: {
    selector: { matchLabels: Record<string, string> };
    namespaceSelector: { matchNames: string[] };
    endpoints: {
      port: string;
      path: string;
      interval: string;
      relabelings: { sourceLabels: string[]; targetLabel: string }[];
    }[];
  };
}

/**
 * The target labels dashboards and alerts select by (docs/metrics.md):
 * `chatcluster` and `component` from the pod's standard labels.
 */
export const METRICS_RELABELINGS = [
  { sourceLabels: ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"], targetLabel: "chatcluster" },
  { sourceLabels: ["__meta_kubernetes_pod_label_app_kubernetes_io_component"], targetLabel: "component" },
];

/** Scrapes the ops port of both tiers through the Services labelled chatcluster.io/metrics=true. */
export function serviceMonitor(cc: ChatCluster, spec: ResolvedSpec, names: ChildNames): ServiceMonitor {
  return {
    apiVersion: SERVICE_MONITOR_API_VERSION,
    kind: "ServiceMonitor",
    metadata: childMeta(cc, names.serviceMonitor, "monitoring", spec.serviceMonitor.labels),
    spec: {
      selector: {
        matchLabels: {
          [NAME_LABEL]: "chatcluster",
          [INSTANCE_LABEL]: cc.metadata.name,
          [METRICS_LABEL]: "true",
        },
      },
      namespaceSelector: { matchNames: [cc.metadata.namespace ?? "default"] },
      endpoints: [
        {
          port: "metrics",
          path: "/metrics",
          interval: spec.serviceMonitor.interval,
          relabelings: METRICS_RELABELINGS,
        },
      ],
    },
  };
}
