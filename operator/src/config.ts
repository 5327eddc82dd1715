import { ConfigError } from "../../platform/config-error.ts";
import {
  addressFlag,
  boolFlag,
  durationFlag,
  enumFlag,
  type FlagValues,
  intFlag,
  stringFlag,
} from "../../platform/flags.ts";
import { LOG_LEVELS, type LogLevel } from "../../platform/logger.ts";
import { VERSION } from "../../platform/version.ts";

/**
 * Flags of `chatcluster operator`, each with its CHATCLUSTER_* twin. Lease
 * timings default to client-go's (15s / 10s / 2s): a crashed leader is replaced
 * within about 15s, a stopped one (SIGTERM releases the Lease) within one retry.
 */
export const operatorFlags = {
  kubeconfig: stringFlag(
    "CHATCLUSTER_KUBECONFIG",
    "",
    "Kubeconfig file. Empty: $KUBECONFIG, then the in-cluster service account, then ~/.kube/config.",
    "a file path",
  ),
  watchNamespace: stringFlag(
    "CHATCLUSTER_WATCH_NAMESPACE",
    "",
    "Reconcile ChatClusters in this namespace only; empty watches every namespace.",
    "a namespace name or empty",
  ),
  leaderElect: boolFlag(
    "CHATCLUSTER_LEADER_ELECT",
    true,
    "Run workers only while holding the leader Lease (run 2 replicas for fast failover).",
  ),
  leaseName: stringFlag("CHATCLUSTER_LEASE_NAME", "chatcluster-operator", "Name of the leader Lease."),
  leaseNamespace: stringFlag(
    "CHATCLUSTER_LEASE_NAMESPACE",
    "",
    "Namespace of the leader Lease. Empty: the operator pod's namespace, else the watch namespace, else default.",
  ),
  leaseDuration: durationFlag(
    "CHATCLUSTER_LEASE_DURATION",
    15_000,
    "How long standbys wait after the last renewal before taking a crashed leader's Lease.",
    2000,
    600_000,
  ),
  renewDeadline: durationFlag(
    "CHATCLUSTER_RENEW_DEADLINE",
    10_000,
    "The leader steps down when it could not renew for this long (must be below the lease duration).",
    1000,
    600_000,
  ),
  retryPeriod: durationFlag(
    "CHATCLUSTER_RETRY_PERIOD",
    2000,
    "Interval between acquire and renew attempts (must be below the renew deadline).",
    100,
    60_000,
  ),
  operatorId: stringFlag(
    "CHATCLUSTER_OPERATOR_ID",
    "",
    "Identity written to the Lease. Empty: the host name plus a random suffix.",
  ),
  opsListen: addressFlag(
    "CHATCLUSTER_OPS_LISTEN",
    "0.0.0.0:9102",
    "Ops listen address: /healthz /readyz /metrics.",
  ),
  maxConcurrentReconciles: intFlag(
    "CHATCLUSTER_MAX_CONCURRENT_RECONCILES",
    2,
    "Workers reconciling different ChatClusters at once (one ChatCluster never runs twice at once).",
    1,
    64,
  ),
  workloadImage: stringFlag(
    "CHATCLUSTER_WORKLOAD_IMAGE",
    `ghcr.io/chatcluster/chatcluster:${VERSION}`,
    "Default image for gateway and logic pods where the spec leaves repository or tag unset. Resolved once per ChatCluster and recorded in its status: a new default rolls nothing unless spec.upgradePolicy is FollowOperator.",
    "repository:tag or repository@sha256:digest",
  ),
  discoveryInterval: durationFlag(
    "CHATCLUSTER_DISCOVERY_INTERVAL",
    300_000,
    "How often to re-check optional APIs (monitoring.coreos.com/v1 ServiceMonitor).",
    1000,
    86_400_000,
  ),
  storeHealthInterval: durationFlag(
    "CHATCLUSTER_STORE_HEALTH_INTERVAL",
    30_000,
    "How often to ask each NATS-backed ChatCluster's JetStream API for its streams' replica health (the StoreDegraded condition).",
    1000,
    3_600_000,
  ),
  logLevel: enumFlag<LogLevel>("CHATCLUSTER_LOG_LEVEL", "info", "Log level.", LOG_LEVELS),
} as const;

export type OperatorConfig = FlagValues<typeof operatorFlags>;

/** Checks what single flags cannot; throws ConfigError naming the flag. */
export function validateOperatorConfig(c: OperatorConfig): void {
  if (!(c.leaseDuration > c.renewDeadline)) {
    throw new ConfigError("renew-deadline", "must be shorter than --lease-duration");
  }
  if (!(c.renewDeadline > c.retryPeriod * 1.2)) {
    throw new ConfigError("retry-period", "must be shorter than --renew-deadline / 1.2");
  }
  if (c.workloadImage.trim() === "" || /\s/.test(c.workloadImage)) {
    throw new ConfigError("workload-image", "must be an image reference without spaces");
  }
}
