import type { StoreHealth } from "../../platform/jetstream-health.ts";
import type { ChatCluster, ChatClusterStatus, Condition } from "./api/chatcluster-types.ts";
import type { ResolvedSpec } from "./api/defaults.ts";
import { rfc3339 } from "./rfc3339.ts";
import type { StoreTarget } from "./store-health-monitor.ts";

/** What logic connects to (CHATCLUSTER_NATS_URLS, CHATCLUSTER_NATS_STREAM): the probe connects to the same. */
export function storeTarget(spec: ResolvedSpec): StoreTarget | undefined {
  if (spec.store.kind !== "nats") return undefined;
  const servers = spec.store.url
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  return servers.length === 0 ? undefined : { servers, stream: spec.store.stream.name };
}

/**
 * The StoreDegraded condition from the latest check: True with the probe's
 * reason (ReplicaOffline, ReplicaLagging, NoLeader, ReplicasMissing,
 * StreamMissing), False/Healthy, or Unknown/Unreachable. None before the
 * first check ends, or when the store is not NATS. Appended to `status`;
 * `lastTransitionTime` moves only when the status flips.
 */
export function withStoreCondition(
  status: ChatClusterStatus,
  cc: ChatCluster,
  health: StoreHealth | undefined,
  now: Date,
): ChatClusterStatus {
  if (health === undefined) return status;
  const s = health.state === "degraded" ? "True" : health.state === "healthy" ? "False" : "Unknown";
  const prev = cc.status?.conditions?.find((c) => c.type === "StoreDegraded");
  const condition: Condition = {
    type: "StoreDegraded",
    status: s,
    reason: health.reason,
    message:
      health.state === "healthy"
        ? `every replica of the store's streams is online and current (${health.streams.map((x) => `${x.stream}: ${x.replicas.length}/${x.desiredReplicas}`).join(", ")})`
        : health.message,
    lastTransitionTime: prev !== undefined && prev.status === s ? prev.lastTransitionTime : rfc3339(now),
    observedGeneration: cc.metadata.generation ?? 0,
  };
  return { ...status, conditions: [...(status.conditions ?? []), condition] };
}
