import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Condition, ConditionType } from "./api/chatcluster-types.ts";

export type ReconcileResult = "success" | "error" | "requeue";
const RESULTS: readonly ReconcileResult[] = ["success", "error", "requeue"];

/** The operator's metrics, shaped like controller-runtime's; nothing registers on import. */
export interface OperatorMetrics {
  reconcileTotal: Counter<"result">;
  reconcileDuration: Histogram;
  workqueueDepth: Gauge;
  workqueueAdds: Counter;
  workqueueRetries: Counter;
  leader: Gauge;
  informerRestarts: Counter<"kind">;
  eventsDropped: Counter;
  applyTotal: Counter<"kind" | "result">;
  clusterCondition: Gauge<"namespace" | "chatcluster" | "condition">;
  gatewayDrains: Counter<"reason">;
  storeDegraded: Gauge<"namespace" | "chatcluster">;
}

/** Every condition type, checked exhaustive by the compiler: a deleted ChatCluster loses each series. */
const CONDITION_TYPES = Object.keys({
  Ready: true,
  Progressing: true,
  Degraded: true,
  MonitoringReady: true,
  HTTPRouteReady: true,
  InternalTLSReady: true,
  StoreDegraded: true,
} satisfies Record<ConditionType, true>) as ConditionType[];

export function createOperatorMetrics(
  registry: Registry,
  watchedKinds: readonly string[] = [],
): OperatorMetrics {
  const registers = [registry];
  const m: OperatorMetrics = {
    reconcileTotal: new Counter({
      name: "chatcluster_operator_reconcile_total",
      help: "Reconciles by result: success, error (retried with backoff) or requeue (ran fine, asked to run again later).",
      labelNames: ["result"] as const,
      registers,
    }),
    reconcileDuration: new Histogram({
      name: "chatcluster_operator_reconcile_duration_seconds",
      help: "Time one reconcile of one ChatCluster took.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    workqueueDepth: new Gauge({
      name: "chatcluster_operator_workqueue_depth",
      help: "ChatCluster keys waiting for a worker.",
      registers,
    }),
    workqueueAdds: new Counter({
      name: "chatcluster_operator_workqueue_adds_total",
      help: "Keys added to the work queue (after deduplication).",
      registers,
    }),
    workqueueRetries: new Counter({
      name: "chatcluster_operator_workqueue_retries_total",
      help: "Keys re-queued with backoff after a failed reconcile.",
      registers,
    }),
    leader: new Gauge({
      name: "chatcluster_operator_leader",
      help: "1 while this process holds the leader Lease and runs workers, else 0.",
      registers,
    }),
    informerRestarts: new Counter({
      name: "chatcluster_operator_informer_restarts_total",
      help: "Informer restarts after a watch or list error, by watched kind.",
      labelNames: ["kind"] as const,
      registers,
    }),
    eventsDropped: new Counter({
      name: "chatcluster_operator_events_dropped_total",
      help: "Kubernetes Events not sent because of the per-object rate limit or an API error.",
      registers,
    }),
    applyTotal: new Counter({
      name: "chatcluster_operator_apply_total",
      help: "Server-side applies of child objects, by kind and result (success, error).",
      labelNames: ["kind", "result"] as const,
      registers,
    }),
    // Labelled with the ChatCluster's own namespace and name, so alerts and dashboards join it
    // with the ChatCluster's pods; scrape the operator with honor_labels (docs/metrics.md).
    clusterCondition: new Gauge({
      name: "chatcluster_operator_cluster_condition",
      help: "Status conditions of each ChatCluster (Ready, Progressing, Degraded, and MonitoringReady, HTTPRouteReady or InternalTLSReady where they apply, StoreDegraded for a NATS store): 1 while True, else 0. Labelled with the ChatCluster's namespace and name; exported by the leader.",
      labelNames: ["namespace", "chatcluster", "condition"] as const,
      registers,
    }),
    gatewayDrains: new Counter({
      name: "chatcluster_operator_gateway_drains_total",
      help: "Gateway pods the operator started draining, one at a time: replace (a new pod template) or scale_down.",
      labelNames: ["reason"] as const,
      registers,
    }),
    storeDegraded: new Gauge({
      name: "chatcluster_operator_store_degraded",
      help: "Replica health of each ChatCluster's JetStream store, checked by the leader every --store-health-interval: 1 while a stream has no leader, an offline, lagging or missing replica, or is missing (StoreDegraded=True), 0 while healthy or unreachable. No series for a SQLite store.",
      labelNames: ["namespace", "chatcluster"] as const,
      registers,
    }),
  };
  for (const reason of ["replace", "scale_down"]) m.gatewayDrains.inc({ reason }, 0);
  for (const result of RESULTS) m.reconcileTotal.inc({ result }, 0);
  for (const kind of watchedKinds) {
    m.informerRestarts.inc({ kind }, 0);
    m.applyTotal.inc({ kind, result: "success" }, 0);
    m.applyTotal.inc({ kind, result: "error" }, 0);
  }
  m.leader.set(0);
  m.workqueueDepth.set(0);
  return m;
}

/** Exports the conditions just computed for one ChatCluster; a condition no longer reported loses its series. */
export function recordClusterConditions(
  m: OperatorMetrics,
  namespace: string,
  chatcluster: string,
  conditions: readonly Condition[],
): void {
  for (const condition of CONDITION_TYPES) {
    const c = conditions.find((x) => x.type === condition);
    if (c === undefined) m.clusterCondition.remove({ namespace, chatcluster, condition });
    else m.clusterCondition.set({ namespace, chatcluster, condition }, c.status === "True" ? 1 : 0);
  }
}

/** Drops a deleted ChatCluster's series, so nothing alerts on a cluster that is gone. */
export function forgetClusterConditions(m: OperatorMetrics, namespace: string, chatcluster: string): void {
  for (const condition of CONDITION_TYPES) m.clusterCondition.remove({ namespace, chatcluster, condition });
}
