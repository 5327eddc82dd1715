import type { V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import type { ChatCluster, ChatClusterStatus, Condition, ConditionType } from "./api/chatcluster-types.ts";
import type { ResolvedSpec } from "./api/defaults.ts";
import { selectorLabels, selectorString } from "./desired/names.ts";

/** What the reconciler observed, the input of the pure status computation. */
export interface Observed {
  statefulSet: V1StatefulSet | undefined;
  deployment: V1Deployment | undefined;
  /** Set when applying children failed in this reconcile. */
  applyError: string | undefined;
}

interface TierView {
  desired: number;
  replicas: number;
  ready: number;
  updated: number;
  /** The controller has seen the latest template/replicas. */
  current: boolean;
}

function stsView(sts: V1StatefulSet | undefined, desired: number): TierView {
  const s = sts?.status;
  return {
    desired,
    replicas: s?.replicas ?? 0,
    ready: s?.readyReplicas ?? 0,
    updated: s?.updatedReplicas ?? 0,
    current:
      sts !== undefined &&
      (s?.observedGeneration ?? 0) >= (sts.metadata?.generation ?? 0) &&
      (s?.currentRevision === undefined ||
        s.updateRevision === undefined ||
        s.currentRevision === s.updateRevision ||
        (s.updatedReplicas ?? 0) >= desired),
  };
}

function deployView(d: V1Deployment | undefined, desired: number): TierView {
  const s = d?.status;
  return {
    desired,
    replicas: s?.replicas ?? 0,
    ready: s?.readyReplicas ?? 0,
    updated: s?.updatedReplicas ?? 0,
    current: d !== undefined && (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0),
  };
}

function settled(t: TierView): boolean {
  return t.current && t.ready === t.desired && t.updated === t.desired && t.replicas === t.desired;
}

/**
 * The ChatCluster status: pure, from the spec and the observed children.
 * `lastTransitionTime` only moves when a condition's status flips, so writing
 * the result back is a no-op when nothing changed.
 */
export function computeStatus(
  cc: ChatCluster,
  spec: ResolvedSpec,
  observed: Observed,
  now: Date,
): ChatClusterStatus {
  const gw = stsView(observed.statefulSet, spec.gateway.replicas);
  const lg = deployView(observed.deployment, spec.logic.replicas);
  const generation = cc.metadata.generation ?? 0;
  const previous = cc.status?.conditions ?? [];
  const cond = (type: ConditionType, status: boolean, reason: string, message: string): Condition => {
    const s = status ? "True" : "False";
    const prev = previous.find((c) => c.type === type);
    return {
      type,
      status: s,
      reason,
      message,
      lastTransitionTime:
        prev !== undefined && prev.status === s
          ? prev.lastTransitionTime
          : now.toISOString().replace(/\.\d{3}Z$/, "Z"),
      observedGeneration: generation,
    };
  };

  const counts = `${gw.ready}/${gw.desired} gateways and ${lg.ready}/${lg.desired} logic pods ready`;
  const gwSettled = settled(gw);
  const lgSettled = settled(lg);
  const ready =
    observed.applyError === undefined &&
    gw.ready >= gw.desired &&
    lg.ready >= lg.desired &&
    gw.current &&
    lg.current;
  let readyReason = "AllReplicasReady";
  if (observed.applyError !== undefined) readyReason = "ReconcileFailed";
  else if (gw.ready < gw.desired) readyReason = "GatewaysNotReady";
  else if (lg.ready < lg.desired) readyReason = "LogicNotReady";
  else if (!gw.current || !lg.current) readyReason = "RolloutPending";

  const progressing = !gwSettled || !lgSettled;
  let progressReason = "RolloutComplete";
  let progressMessage = `every pod runs the current template: ${counts}`;
  if (progressing) {
    const scaling = gw.replicas !== gw.desired || lg.replicas !== lg.desired;
    progressReason = scaling ? "Scaling" : "RollingOut";
    progressMessage = scaling
      ? `scaling to ${gw.desired} gateways and ${lg.desired} logic pods: ${counts}`
      : `rolling out: ${gw.updated}/${gw.desired} gateways and ${lg.updated}/${lg.desired} logic pods updated`;
  }

  const degraded = observed.applyError !== undefined;
  const conditions = [
    cond("Ready", ready, readyReason, observed.applyError ?? counts),
    cond("Progressing", progressing, progressReason, progressMessage),
    cond(
      "Degraded",
      degraded,
      degraded ? "ReconcileFailed" : "AsExpected",
      degraded ? (observed.applyError ?? "") : "the operator applied every child",
    ),
  ];
  return {
    observedGeneration: generation,
    store: spec.store.kind,
    conditions,
    gateway: {
      replicas: gw.replicas,
      readyReplicas: gw.ready,
      updatedReplicas: gw.updated,
      selector: selectorString(selectorLabels(cc.metadata.name, "gateway")),
    },
    logic: { replicas: lg.replicas, readyReplicas: lg.ready, updatedReplicas: lg.updated },
  };
}

/** Deep equality of two status objects as JSON, ignoring key order. */
export function statusEqual(a: ChatClusterStatus | undefined, b: ChatClusterStatus): boolean {
  return a !== undefined && canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(",")}}`;
}
