import type { DrainingPod } from "../api/chatcluster-types.ts";
import { rfc3339 } from "../rfc3339.ts";
import type { PodView } from "./pod-view.ts";

/**
 * The next gateway step, decided from observed state alone (pure: the
 * reconciler gathers the input and carries the step out).
 *
 * Gateways hold live WebSockets, so the operator, not the StatefulSet
 * controller, removes them (updateStrategy OnDelete): one pod at a time,
 * highest ordinal first; the next only once the previous pod is gone, its
 * replacement (if any) is Ready and `minIntervalSeconds` have passed.
 * Scale-down lowers the StatefulSet's replicas by one per step; scale-up is
 * immediate. Replacement waits for logic to have rolled out. `paused` holds
 * every removal. Any terminating gateway pod, whoever deleted it, blocks the
 * next step, so two gateways never drain at once.
 *
 * The pod being drained is recorded in status before it is removed (by uid,
 * so a lagging cache or a same-name replacement cannot fool the wait), and
 * counted as gone only once no pod with that uid is observed.
 */

export interface GatewayPlanInput {
  /** The StatefulSet's name: pod N is `<name>-N`. */
  statefulSet: string;
  /** spec.gateway.replicas */
  desiredReplicas: number;
  /** The live StatefulSet's spec.replicas; undefined before it exists. */
  currentReplicas: number | undefined;
  /** status.updateRevision once the StatefulSet controller has observed the latest spec, else undefined. */
  updateRevision: string | undefined;
  pods: readonly PodView[];
  paused: boolean;
  minIntervalMs: number;
  /** Logic runs its current template on every replica, all Ready (see logicRolledOut). */
  logicRolledOut: boolean;
  draining: DrainingPod | undefined;
  lastDrainedMs: number | undefined;
  nowMs: number;
}

/** Why the gateways are where they are; status words come from this. */
export type GatewayState =
  | { phase: "Settled" }
  | { phase: "Draining"; pod: string; reason: DrainingPod["reason"] | "External" }
  | { phase: "ScalingUp"; from: number; to: number }
  | { phase: "ScalingDown"; from: number; to: number }
  | { phase: "WaitingForPod"; pod: string; missing: boolean }
  | { phase: "WaitingForController" }
  | { phase: "WaitingForLogic"; outdated: number }
  | { phase: "WaitingInterval"; remainingMs: number; next: string }
  | { phase: "Paused"; outdated: number; excess: number };

export interface GatewayPlan {
  /** The StatefulSet replicas to apply. */
  replicas: number;
  /** A pod to delete now (with a uid precondition); its record is already in `draining`. */
  delete: { pod: string; uid: string } | undefined;
  /** The draining record to keep in status (undefined: none). */
  draining: DrainingPod | undefined;
  /** True when this plan starts a new drain (the record must be written before acting). */
  startsDrain: boolean;
  lastDrainedMs: number | undefined;
  /** Look again after this long even without an event (the minimum interval). */
  recheckMs: number | undefined;
  state: GatewayState;
  /** Pods (not terminating) on the StatefulSet's update revision. */
  updated: number;
}

export function planGateways(i: GatewayPlanInput): GatewayPlan {
  const current = i.currentReplicas ?? i.desiredReplicas;
  // Scale-up is immediate: adding pods disconnects no one.
  let replicas = Math.max(current, i.desiredReplicas);
  let lastDrainedMs = i.lastDrainedMs;
  const live = i.pods.filter((p) => !p.terminating);
  const updated =
    i.updateRevision === undefined ? 0 : live.filter((p) => p.revision === i.updateRevision).length;
  const base = { delete: undefined, startsDrain: false, recheckMs: undefined, updated };
  const plan = (state: GatewayState, extra: Partial<GatewayPlan> = {}): GatewayPlan => ({
    ...base,
    replicas,
    draining: undefined,
    lastDrainedMs,
    state,
    ...extra,
  });

  // 1. Finish the step in flight.
  const d = i.draining;
  if (d !== undefined) {
    const pod = i.pods.find((p) => p.uid === d.uid);
    // A scale-down step the spec no longer wants (scaled back up) is dropped if its pod is not going yet.
    const wanted = d.reason === "Replace" || (pod !== undefined && i.desiredReplicas <= pod.ordinal);
    const cancelled = pod !== undefined && !pod.terminating && !wanted;
    if (pod !== undefined && !cancelled) {
      // Re-assert the step: the earlier attempt may have failed after its record was written.
      if (d.reason === "ScaleDown" && wanted) replicas = Math.min(replicas, pod.ordinal);
      const again = d.reason === "Replace" && !pod.terminating ? { pod: pod.name, uid: pod.uid } : undefined;
      return plan({ phase: "Draining", pod: d.pod, reason: d.reason }, { draining: d, delete: again });
    }
    if (!cancelled) lastDrainedMs = i.nowMs;
  }

  // 2. Someone else's removal (eviction, node drain, kubectl delete) also counts.
  const terminating = i.pods.find((p) => p.terminating);
  if (terminating !== undefined)
    return plan({ phase: "Draining", pod: terminating.name, reason: "External" });

  const settledAt = Math.max(lastDrainedMs ?? 0, ...live.map((p) => (p.ready ? (p.readySinceMs ?? 0) : 0)));
  const wait = settledAt + i.minIntervalMs - i.nowMs;

  // 3. Scale down, highest ordinal first, one pod per step.
  if (i.desiredReplicas < current) {
    const excess = current - i.desiredReplicas;
    if (i.paused) return plan({ phase: "Paused", outdated: outdatedCount(live, i.updateRevision), excess });
    // Pods beyond the replicas not yet terminating: the StatefulSet controller has not acted yet.
    const beyond = live.find((p) => p.ordinal >= current);
    if (beyond !== undefined) return plan({ phase: "Draining", pod: beyond.name, reason: "ScaleDown" });
    const victim = live.find((p) => p.ordinal === current - 1);
    // A pod of the current template still starting (a replacement) holds the
    // step: draining the victim now would leave two gateways out of service.
    const starting = live.find(
      (p) => p !== victim && !p.ready && i.updateRevision !== undefined && p.revision === i.updateRevision,
    );
    if (starting !== undefined) return plan({ phase: "WaitingForPod", pod: starting.name, missing: false });
    if (victim !== undefined && wait > 0) {
      return plan({ phase: "WaitingInterval", remainingMs: wait, next: victim.name }, { recheckMs: wait });
    }
    replicas = current - 1;
    if (victim === undefined) return plan({ phase: "ScalingDown", from: current, to: replicas });
    return plan(
      { phase: "Draining", pod: victim.name, reason: "ScaleDown" },
      { draining: drainRecord(victim, "ScaleDown", i.nowMs), startsDrain: true },
    );
  }

  // 4. Replace outdated pods, once the StatefulSet controller has seen the latest template.
  if (i.updateRevision === undefined) return plan({ phase: "WaitingForController" });
  const missing = firstMissing(live, replicas, i.statefulSet);
  const outdated = live.filter((p) => p.ordinal < replicas && p.revision !== i.updateRevision);
  if (outdated.length === 0) {
    if (replicas > current) return plan({ phase: "ScalingUp", from: current, to: replicas });
    if (missing !== undefined) return plan({ phase: "WaitingForPod", pod: missing, missing: true });
    const unready = live.find((p) => !p.ready);
    if (unready !== undefined) return plan({ phase: "WaitingForPod", pod: unready.name, missing: false });
    return plan({ phase: "Settled" });
  }
  if (i.paused) return plan({ phase: "Paused", outdated: outdated.length, excess: 0 });
  if (!i.logicRolledOut) return plan({ phase: "WaitingForLogic", outdated: outdated.length });
  if (missing !== undefined) return plan({ phase: "WaitingForPod", pod: missing, missing: true });
  // An outdated pod that is not Ready serves no one: replace it first, so a broken pod never blocks the roll.
  const byOrdinalDesc = [...outdated].sort((a, b) => b.ordinal - a.ordinal);
  const candidate = byOrdinalDesc.find((p) => !p.ready) ?? byOrdinalDesc[0]!;
  // A replacement that is not Ready stops the roll here (as a new template that does not start should);
  // other outdated pods that are not Ready are replaced in turn, never waited for.
  const unready = live.find((p) => p !== candidate && !p.ready && p.revision === i.updateRevision);
  if (unready !== undefined) return plan({ phase: "WaitingForPod", pod: unready.name, missing: false });
  if (candidate.ready && wait > 0) {
    return plan({ phase: "WaitingInterval", remainingMs: wait, next: candidate.name }, { recheckMs: wait });
  }
  return plan(
    { phase: "Draining", pod: candidate.name, reason: "Replace" },
    {
      draining: drainRecord(candidate, "Replace", i.nowMs),
      startsDrain: true,
      delete: { pod: candidate.name, uid: candidate.uid },
    },
  );
}

function drainRecord(pod: PodView, reason: DrainingPod["reason"], nowMs: number): DrainingPod {
  return { pod: pod.name, uid: pod.uid, since: rfc3339(new Date(nowMs)), reason };
}

function outdatedCount(live: readonly PodView[], revision: string | undefined): number {
  return revision === undefined ? 0 : live.filter((p) => p.revision !== revision).length;
}

/** The name of the lowest ordinal below `replicas` with no live pod, if any. */
function firstMissing(live: readonly PodView[], replicas: number, sts: string): string | undefined {
  const have = new Set(live.map((p) => p.ordinal));
  for (let o = 0; o < replicas; o++) if (!have.has(o)) return `${sts}-${o}`;
  return undefined;
}
