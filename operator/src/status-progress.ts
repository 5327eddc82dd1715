import type { ResolvedSpec } from "./api/defaults.ts";
import type { Problem } from "./rollout/diagnosis.ts";
import type { GatewayPlan } from "./rollout/gateway-plan.ts";
import type { TierView } from "./tier-view.ts";

/**
 * The Progressing condition in words: what the operator is doing or waiting
 * for, in rollout order (logic first, then gateways one pod at a time), or
 * why it is stuck. True while pods are added, removed or replaced; False once
 * done (RolloutComplete), while paused (RolloutPaused), or when a problem
 * stops progress (the problem's reason, as a Deployment reports
 * ProgressDeadlineExceeded with Progressing=False).
 */

export interface ProgressInput {
  spec: ResolvedSpec;
  gateway: TierView;
  logic: TierView;
  plan: GatewayPlan;
  logicRolledOut: boolean;
  problem: Problem | undefined;
  /** spec.paused: nothing is being changed, whatever else is true. */
  reconcilePaused: boolean;
}

export interface Progress {
  status: boolean;
  reason: string;
  message: string;
}

export function progressing(i: ProgressInput): Progress {
  const { gateway: gw, logic: lg, plan } = i;
  if (i.reconcilePaused) {
    return {
      status: false,
      reason: "ReconcilePaused",
      message: `spec.paused is true: the operator changes nothing of this ChatCluster (no apply, no pod replaced or removed, no Secret rotated) until it is false; ${gw.ready}/${gw.desired} gateways and ${lg.ready}/${lg.desired} logic pods ready`,
    };
  }
  const state = plan.state;
  const gatewaysDone = state.phase === "Settled";
  if (i.logicRolledOut && gatewaysDone) {
    return {
      status: false,
      reason: "RolloutComplete",
      message: `every pod runs the current template: ${gw.ready}/${gw.desired} gateways and ${lg.ready}/${lg.desired} logic pods ready`,
    };
  }
  if (i.problem !== undefined) return { status: false, reason: i.problem.reason, message: i.problem.message };

  const drain = `${i.spec.gateway.drainSeconds}s`;
  if (!i.logicRolledOut) {
    const waiting = gatewaysDone ? "" : "; gateway pods wait until it is done";
    const scaling = lg.updated >= lg.desired && lg.replicas !== lg.desired;
    return {
      status: true,
      reason: scaling ? "ScalingLogic" : "RollingOutLogic",
      message: scaling
        ? `scaling logic from ${lg.replicas} to ${lg.desired} pods${waiting}`
        : `rolling out logic: ${lg.updated}/${lg.desired} logic pods run the current template, ${lg.ready} ready${waiting}`,
    };
  }
  switch (state.phase) {
    case "Draining":
      return {
        status: true,
        reason: "DrainingGateway",
        message:
          state.reason === "Replace"
            ? `draining gateway pod ${state.pod} to replace it with the current template (${gw.updated}/${gw.desired} gateways updated); its clients reconnect to the others over ${drain}`
            : state.reason === "ScaleDown"
              ? `draining gateway pod ${state.pod} to scale gateways down to ${gw.desired}, one pod at a time; its clients reconnect to the others over ${drain}`
              : `gateway pod ${state.pod} is terminating (not removed by the operator: an eviction or a delete); the next gateway step waits until it is gone`,
      };
    case "WaitingForPod":
      return {
        status: true,
        reason: "WaitingForGateway",
        message: state.missing
          ? `waiting for gateway pod ${state.pod} to be created (${gw.ready}/${gw.desired} gateways ready)`
          : `waiting for gateway pod ${state.pod} to become Ready before the next gateway step (${gw.ready}/${gw.desired} gateways ready)`,
      };
    case "WaitingInterval":
      return {
        status: true,
        reason: "WaitingBetweenGateways",
        message: `next: gateway pod ${state.next} in ${Math.ceil(state.remainingMs / 1000)}s (spec.gateway.rollout.minIntervalSeconds: ${i.spec.gateway.rollout.minIntervalSeconds}); ${gw.updated}/${gw.desired} gateways updated`,
      };
    case "ScalingUp":
    case "ScalingDown":
      return {
        status: true,
        reason: "ScalingGateways",
        message: `scaling gateways from ${state.from} to ${state.to} (${gw.ready}/${gw.desired} ready)`,
      };
    case "WaitingForController":
      return {
        status: true,
        reason: "RollingOut",
        message: "waiting for the StatefulSet controller to observe the latest gateway template",
      };
    case "WaitingForLogic":
      return {
        status: true,
        reason: "WaitingForLogic",
        message: `${state.outdated} gateway pods wait for logic to finish rolling out`,
      };
    case "Paused": {
      const parts = [
        state.outdated > 0 ? `${state.outdated} gateway pods run an older template` : "",
        state.excess > 0 ? `${state.excess} gateway pods are above spec.gateway.replicas` : "",
      ].filter((p) => p !== "");
      return {
        status: false,
        reason: "RolloutPaused",
        message: `spec.gateway.rollout.paused is true: ${parts.join(" and ")}; set it to false to continue`,
      };
    }
    case "Settled":
      return { status: false, reason: "RolloutComplete", message: "every pod runs the current template" };
  }
}
