import type { V1Pod } from "@kubernetes/client-node";

/** The StatefulSet controller labels each pod with the revision of the template it was created from. */
export const REVISION_LABEL = "controller-revision-hash";

/** What the rollout decisions read from one pod: observed state only. */
export interface PodView {
  name: string;
  uid: string;
  /** StatefulSet ordinal (the name's numeric suffix); -1 for pods of a Deployment. */
  ordinal: number;
  /** deletionTimestamp is set: the pod is draining or exiting. */
  terminating: boolean;
  ready: boolean;
  /** When the Ready condition last changed (ms since epoch), if reported. */
  readySinceMs: number | undefined;
  /** controller-revision-hash (StatefulSet pods). */
  revision: string | undefined;
}

export function podView(pod: V1Pod): PodView {
  const name = pod.metadata?.name ?? "";
  const m = /-(\d+)$/.exec(name);
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
  const since = ready?.lastTransitionTime;
  return {
    name,
    uid: pod.metadata?.uid ?? "",
    ordinal: m ? Number(m[1]) : -1,
    terminating: pod.metadata?.deletionTimestamp !== undefined,
    ready: ready?.status === "True",
    readySinceMs: since === undefined ? undefined : new Date(since).getTime(),
    revision: pod.metadata?.labels?.[REVISION_LABEL],
  };
}
