import type { V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import type {
  ChatCluster,
  ChatClusterStatus,
  Condition,
  ConditionType,
  InternalTokenStatus,
} from "./api/chatcluster-types.ts";
import type { ResolvedSpec } from "./api/defaults.ts";
import type { TierImages } from "./desired/images.ts";
import { selectorLabels, selectorString } from "./desired/names.ts";
import { rfc3339 as timestamp } from "./rfc3339.ts";
import type { Problem } from "./rollout/diagnosis.ts";
import type { GatewayPlan } from "./rollout/gateway-plan.ts";
import { progressing } from "./status-progress.ts";
import { tierView as view } from "./tier-view.ts";

/** What the reconciler observed and decided, the input of the pure status computation. */
export interface Observed {
  statefulSet: V1StatefulSet | undefined;
  deployment: V1Deployment | undefined;
  gateway: GatewayPlan;
  logicRolledOut: boolean;
  images: TierImages;
  /** Why pods are missing or not Ready (rollout/diagnosis.ts), most important first. */
  problems: readonly Problem[];
  /** One sentence per child the operator could not apply or delete (api-error-summary.ts). */
  applyErrors: readonly string[];
  /** spec.paused: the operator changed nothing in this reconcile. */
  reconcilePaused?: boolean;
  /** Whether the cluster serves the optional APIs (optional-apis.ts). */
  optionalApis?: { ServiceMonitor: boolean; HTTPRoute: boolean; Certificate?: boolean };
  /** The InternalTLSReady condition (internal-tls-step.ts); never affects Ready. */
  internalTls?: { ready: boolean; reason: string; message: string };
  /** The internal token as internal-token-step.ts left it. */
  internalToken?: InternalTokenStatus;
}

const REFERENCE_REASONS = new Set(["SecretNotFound", "ConfigMapNotFound"]);

/**
 * The ChatCluster status: pure, from the spec and what was observed.
 * `lastTransitionTime` only moves when a condition's status flips, so writing
 * the result back is a no-op when nothing changed.
 */
export function computeStatus(
  cc: ChatCluster,
  spec: ResolvedSpec,
  observed: Observed,
  now: Date,
): ChatClusterStatus {
  const gw = view(observed.statefulSet, spec.gateway.replicas, observed.gateway.updated);
  const lg = view(observed.deployment, spec.logic.replicas, undefined);
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
      lastTransitionTime: prev !== undefined && prev.status === s ? prev.lastTransitionTime : timestamp(now),
      observedGeneration: generation,
    };
  };

  const counts = `${gw.ready}/${gw.desired} gateways and ${lg.ready}/${lg.desired} logic pods ready`;
  const applyError = observed.applyErrors.length > 0 ? observed.applyErrors.join(" ") : undefined;
  const reference = observed.problems.find((p) => REFERENCE_REASONS.has(p.reason));
  const podProblem = observed.problems.find((p) => !REFERENCE_REASONS.has(p.reason));
  const enough = gw.ready >= gw.desired && lg.ready >= lg.desired;
  let ready: [boolean, string, string] = [true, "AllReplicasReady", counts];
  if (applyError !== undefined) ready = [false, "ReconcileFailed", applyError];
  else if (reference !== undefined) ready = [false, reference.reason, `${reference.message} ${counts}.`];
  else if (!enough && podProblem !== undefined)
    ready = [false, podProblem.reason, `${podProblem.message} ${counts}.`];
  else if (gw.ready < gw.desired) ready = [false, "GatewaysNotReady", counts];
  else if (lg.ready < lg.desired) ready = [false, "LogicNotReady", counts];
  else if (!gw.current || !lg.current)
    ready = [false, "RolloutPending", `${counts}; waiting for the controllers to observe the latest spec`];

  const progress = progressing({
    spec,
    gateway: gw,
    logic: lg,
    plan: observed.gateway,
    logicRolledOut: observed.logicRolledOut,
    problem: podProblem ?? reference,
    reconcilePaused: observed.reconcilePaused === true,
  });
  const token = observed.internalToken;
  const tokenLost = token?.phase === "Lost" ? token.message : undefined;
  const degradedReason =
    applyError !== undefined
      ? "ReconcileFailed"
      : tokenLost !== undefined
        ? "InternalTokenLost"
        : "AsExpected";
  const degraded = degradedReason !== "AsExpected";
  const g = observed.gateway;
  // A token rotation rides on an ordinary rollout: say why the pods roll.
  if (token?.phase === "Rotating" && progress.status) {
    progress.message = `rotating the internal token to generation ${token.generation} (gateways accept both tokens meanwhile): ${progress.message}`;
  }
  if (token?.message !== undefined && token.phase !== "Lost")
    progress.message = `${progress.message}; ${token.message}`;
  const apis = observed.optionalApis ?? { ServiceMonitor: false, HTTPRoute: false };
  return {
    observedGeneration: generation,
    store: spec.store.kind,
    conditions: [
      cond("Ready", ...ready),
      cond("Progressing", progress.status, progress.reason, progress.message),
      cond(
        "Degraded",
        degraded,
        degradedReason,
        applyError ?? tokenLost ?? "the operator applied every child",
      ),
      ...(spec.serviceMonitor.enabled ? [cond("MonitoringReady", ...monitoring(apis.ServiceMonitor))] : []),
      ...(spec.gateway.httpRoute !== undefined
        ? [cond("HTTPRouteReady", ...httpRouteState(apis.HTTPRoute))]
        : []),
      ...(observed.internalTls !== undefined
        ? [
            cond(
              "InternalTLSReady",
              observed.internalTls.ready,
              observed.internalTls.reason,
              observed.internalTls.message,
            ),
          ]
        : []),
    ],
    gateway: {
      replicas: gw.replicas,
      readyReplicas: gw.ready,
      updatedReplicas: gw.updated,
      ready: `${gw.ready}/${gw.desired}`,
      selector: selectorString(selectorLabels(cc.metadata.name, "gateway")),
      image: observed.images.gateway,
      ...(g.draining !== undefined ? { draining: g.draining } : {}),
      ...(g.lastDrainedMs !== undefined ? { lastDrainedTime: timestamp(new Date(g.lastDrainedMs)) } : {}),
    },
    logic: {
      replicas: lg.replicas,
      readyReplicas: lg.ready,
      updatedReplicas: lg.updated,
      ready: `${lg.ready}/${lg.desired}`,
      image: observed.images.logic,
    },
    ...(token !== undefined ? { internalToken: token } : {}),
  };
}

/** Asked for a ServiceMonitor: whether it can exist. Never affects Ready: the chat works unscraped. */
function monitoring(available: boolean): [boolean, string, string] {
  return available
    ? [true, "ServiceMonitorCreated", "the ServiceMonitor scrapes the gateway and logic pods"]
    : [
        false,
        "ServiceMonitorAPIMissing",
        `spec.metrics.serviceMonitor.enabled is true but the cluster does not serve monitoring.coreos.com/v1 ServiceMonitor, so nothing scrapes this ChatCluster's pods: install the Prometheus Operator's CRDs and the operator creates the ServiceMonitor within seconds`,
      ];
}

function httpRouteState(available: boolean): [boolean, string, string] {
  return available
    ? [true, "HTTPRouteCreated", "the HTTPRoute routes to the gateways' client Service"]
    : [
        false,
        "HTTPRouteAPIMissing",
        `spec.gateway.httpRoute is set but the cluster does not serve gateway.networking.k8s.io/v1 HTTPRoute: install the Gateway API CRDs (and an implementation) and the operator creates the HTTPRoute within seconds`,
      ];
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
