import type { V1Deployment, V1StatefulSet } from "@kubernetes/client-node";

/** One tier as its workload controller reports it, against the replicas the spec wants. */
export interface TierView {
  desired: number;
  replicas: number;
  ready: number;
  updated: number;
  /** The workload's controller has seen the latest spec. */
  current: boolean;
}

export function tierView(
  w: V1StatefulSet | V1Deployment | undefined,
  desired: number,
  updated: number | undefined,
): TierView {
  const s = w?.status;
  return {
    desired,
    replicas: s?.replicas ?? 0,
    ready: s?.readyReplicas ?? 0,
    updated: updated ?? s?.updatedReplicas ?? 0,
    current: w !== undefined && (s?.observedGeneration ?? 0) >= (w.metadata?.generation ?? 0),
  };
}
