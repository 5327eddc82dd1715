import type { KubernetesObject, V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import type { ChatCluster } from "./api/chatcluster-types.ts";
import type { ResolvedSpec } from "./api/defaults.ts";
import { CONFIG_HASH_ANNOTATION } from "./desired/names.ts";
import type { EventRecorder } from "./event-recorder.ts";
import type { GatewayPlan } from "./rollout/gateway-plan.ts";

/** Events that say what a reconcile changed: `kubectl describe chat <name>` tells the rollout's story. */

type Workload = V1StatefulSet | V1Deployment;

export interface Changes {
  prevSts: V1StatefulSet | undefined;
  prevDep: V1Deployment | undefined;
  desired: { gatewayConfigHash: string; logicConfigHash: string; objects: KubernetesObject[] };
  spec: ResolvedSpec;
}

export function recordChanges(events: EventRecorder, cc: ChatCluster, c: Changes): void {
  const gw = c.spec.gateway.replicas;
  const lg = c.spec.logic.replicas;
  if (c.prevSts === undefined) {
    events.record(cc, "Normal", "Created", `Created the gateway StatefulSet with ${gw} replicas`);
  } else {
    const before = c.prevSts.spec?.replicas ?? 0;
    if (before < gw)
      events.record(cc, "Normal", "ScalingGateways", `Scaling gateways from ${before} to ${gw}`);
    if (changedTemplate(c.prevSts, c.desired.gatewayConfigHash, c.desired.objects, "StatefulSet")) {
      events.record(
        cc,
        "Normal",
        "RollingOutGateways",
        "New gateway pod template: gateway pods are replaced one at a time, each drained, once logic has rolled out",
      );
    }
  }
  if (c.prevDep === undefined) {
    events.record(cc, "Normal", "Created", `Created the logic Deployment with ${lg} replicas`);
  } else {
    const before = c.prevDep.spec?.replicas ?? 0;
    if (before !== lg) events.record(cc, "Normal", "ScalingLogic", `Scaling logic from ${before} to ${lg}`);
    if (changedTemplate(c.prevDep, c.desired.logicConfigHash, c.desired.objects, "Deployment")) {
      events.record(cc, "Normal", "RollingOutLogic", "Rolling out a new logic pod template");
    }
  }
}

/** A drain the operator starts: one per gateway pod replaced or removed. */
export function recordDrain(
  events: EventRecorder,
  cc: ChatCluster,
  plan: GatewayPlan,
  spec: ResolvedSpec,
): void {
  const d = plan.draining;
  if (!plan.startsDrain || d === undefined) return;
  const why =
    d.reason === "Replace"
      ? "to replace it with the current template"
      : `to scale gateways down to ${spec.gateway.replicas}, one pod at a time`;
  events.record(
    cc,
    "Normal",
    "DrainingGateway",
    `Draining gateway pod ${d.pod} ${why}; its clients reconnect over ${spec.gateway.drainSeconds}s`,
  );
}

function changedTemplate(prev: Workload, hash: string, objects: KubernetesObject[], kind: string): boolean {
  const next = objects.find((o) => o.kind === kind) as Workload | undefined;
  const prevTemplate = prev.spec?.template;
  const prevHash = prevTemplate?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
  const prevImage = prevTemplate?.spec?.containers[0]?.image;
  const nextImage = next?.spec?.template.spec?.containers[0]?.image;
  return prevHash !== hash || prevImage !== nextImage;
}
