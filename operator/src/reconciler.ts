import type {
  KubernetesObject,
  ObjectCache,
  V1Deployment,
  V1Pod,
  V1Secret,
  V1StatefulSet,
} from "@kubernetes/client-node";
import type { Logger } from "../../platform/logger.ts";
import type { ChatCluster, ChatClusterStatus } from "./api/chatcluster-types.ts";
import { resolveSpec } from "./api/defaults.ts";
import { type Attempt, summarizeError } from "./api-error-summary.ts";
import { applyChildren } from "./apply-children.ts";
import { recordChanges, recordDrain } from "./change-events.ts";
import { getFresh, latestFailedCreate, readKeys } from "./cluster-reads.ts";
import { buildDesired } from "./desired/index.ts";
import { COMPONENT_LABEL, childNames, FIELD_MANAGER, INSTANCE_LABEL } from "./desired/names.ts";
import type { EventRecorder } from "./event-recorder.ts";
import { ensureInternalTrust, trustWhilePaused } from "./internal-tls-step.ts";
import { ensureInternalToken, finishRotation, tokenWhilePaused } from "./internal-token-step.ts";
import type { KubeApi } from "./kube-api.ts";
import { resourcePath } from "./kube-api.ts";
import { isConflict, isNotFound } from "./operator-error.ts";
import {
  forgetClusterConditions,
  type OperatorMetrics,
  recordClusterConditions,
} from "./operator-metrics.ts";
import type { OptionalKind } from "./optional-apis.ts";
import type { RetiredTokens } from "./retired-tokens.ts";
import { diagnose, type Problem } from "./rollout/diagnosis.ts";
import { type GatewayPlan, planGateways } from "./rollout/gateway-plan.ts";
import { logicRolledOut } from "./rollout/logic-rollout.ts";
import { podView } from "./rollout/pod-view.ts";
import { checkReferences, references } from "./rollout/reference-check.ts";
import { computeStatus, type Observed, statusEqual } from "./status.ts";
import { storeTarget, withStoreCondition } from "./store-health-condition.ts";
import type { StoreHealthMonitor } from "./store-health-monitor.ts";

export interface ReconcileResult {
  /** Run this key again after this long even if nothing changes (e.g. while rolling out). */
  requeueAfterMs?: number;
}

export interface ReconcilerDeps {
  api: KubeApi;
  chatClusters: ObjectCache<ChatCluster>;
  statefulSets: ObjectCache<V1StatefulSet>;
  deployments: ObjectCache<V1Deployment>;
  secrets: ObjectCache<V1Secret>;
  /** Tokens of internal token Secrets seen deleted (rotations start from them). */
  retired: RetiredTokens;
  /** Gateway and logic pods of every ChatCluster (label-selected). */
  pods: ObjectCache<V1Pod>;
  /** Whether the ServiceMonitor and HTTPRoute APIs are served now (they may appear later). */
  optionalApis: { available(kind: OptionalKind): boolean };
  /** The cache of a child kind the operator may delete (Ingress, ServiceMonitor...), when watched. */
  cacheFor(kind: string): ObjectCache<KubernetesObject> | undefined;
  defaultImage: string;
  events: EventRecorder;
  metrics: OperatorMetrics;
  /** Replica health of NATS stores, checked off the reconcile path (StoreDegraded). */
  storeHealth?: StoreHealthMonitor;
  log: Logger;
  now?: () => Date;
}

/** While pods roll, scale or are stuck, look again this often in case an event is missed. */
export const PROGRESS_RECHECK_MS = 15_000;

/**
 * Level-based: reads the ChatCluster, applies the whole desired state with
 * server-side apply (a no-op when nothing differs, and it reverts hand edits
 * of fields the operator owns), takes at most one gateway step
 * (rollout/gateway-plan.ts), then writes status. The key is all it gets; it
 * never looks at which event woke it.
 */
export function createReconciler(d: ReconcilerDeps): (key: string) => Promise<ReconcileResult> {
  const now = d.now ?? (() => new Date());
  return async (key: string): Promise<ReconcileResult> => {
    const slash = key.indexOf("/");
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const cached = d.chatClusters.get(name, ns);
    // Deleted: children go with it through their owner references (garbage collector).
    if (cached === undefined || cached.metadata.deletionTimestamp !== undefined) {
      forgetClusterConditions(d.metrics, ns, name);
      d.storeHealth?.forget(key);
      d.retired.forget(ns, name);
      return {};
    }
    // The draining record (status) and the StatefulSet's replicas come fresh: from a
    // lagging cache a finished gateway step could look undone and be repeated.
    const cc = await getFresh<ChatCluster>(d.api, "ChatCluster", ns, name);
    if (cc === undefined || cc.metadata.deletionTimestamp !== undefined) {
      forgetClusterConditions(d.metrics, ns, name);
      return {};
    }
    const log = d.log.child({ chatcluster: key, generation: cc.metadata.generation });
    const names = childNames(name);
    const liveSts = await getFresh<V1StatefulSet>(d.api, "StatefulSet", ns, names.gatewayStatefulSet);
    const prevDep = d.deployments.get(names.logicDeployment, ns);
    const errors: string[] = [];
    const attempt = (verb: string, kind: string, child: string): Attempt => ({
      verb,
      kind,
      name: child,
      namespace: ns,
    });

    // Asked once: the informers behind these may start or stop while this reconcile runs.
    const apis = {
      ServiceMonitor: d.optionalApis.available("ServiceMonitor"),
      HTTPRoute: d.optionalApis.available("HTTPRoute"),
      Certificate: d.optionalApis.available("Certificate"),
    };
    const resolved = resolveSpec(cc.spec);
    d.storeHealth?.sync(key, storeTarget(resolved));
    const live = { statefulSet: liveSts, deployment: prevDep };
    // The internal token and the auth Secrets first: the pod templates carry their generation and revision.
    const tokenDeps = { api: d.api, secrets: d.secrets, retired: d.retired, events: d.events, log };
    const token = resolved.paused
      ? tokenWhilePaused(cc, live)
      : await ensureInternalToken(tokenDeps, cc, resolved, names, live);
    errors.push(...token.errors);
    const trustDeps = { ...tokenDeps, certManagerAvailable: apis.Certificate, nowMs: now().getTime() };
    const trust = resolved.paused
      ? trustWhilePaused(live)
      : await ensureInternalTrust(trustDeps, cc, resolved, names, live);
    errors.push(...trust.errors);
    const desired = buildDesired(cc, {
      defaultImage: d.defaultImage,
      // Under upgradePolicy Manual the images stay what they were resolved to (images.ts).
      recordedImages: {
        gateway: cc.status?.gateway?.image ?? firstImage(liveSts),
        logic: cc.status?.logic?.image ?? firstImage(prevDep),
      },
      // Never lower replicas here: scale-down is stepped below, one drained pod at a time.
      gatewayReplicas: Math.max(liveSts?.spec?.replicas ?? 0, resolved.gateway.replicas),
      serviceMonitorAvailable: apis.ServiceMonitor,
      httpRouteAvailable: apis.HTTPRoute,
      certificateAvailable: apis.Certificate,
      secretRolls: token.rolls,
      trust: trust.trust,
    });
    const { spec } = desired;

    const applied = spec.paused
      ? { statefulSet: undefined, deployment: undefined, errors: [] }
      : await applyChildren({ api: d.api, metrics: d.metrics, log, cacheFor: d.cacheFor }, desired, ns);
    errors.push(...applied.errors);
    // Gateway steps act only on a StatefulSet applied in this reconcile: never while paused.
    const sts = applied.statefulSet;
    const dep = applied.deployment;
    if (!spec.paused) recordChanges(d.events, cc, { prevSts: liveSts, prevDep, desired, spec });

    // Observe what the controllers report after this apply, and plan the next gateway step.
    const nowMs = now().getTime();
    const pods = d.pods.list(ns).filter((p) => p.metadata?.labels?.[INSTANCE_LABEL] === name);
    const gatewayPods = pods.filter((p) => p.metadata?.labels?.[COMPONENT_LABEL] === "gateway");
    const logicDep = dep ?? prevDep;
    const logicDone = logicRolledOut(logicDep, spec.logic.replicas);
    const gwSts = sts ?? liveSts;
    const lastDrained = cc.status?.gateway?.lastDrainedTime;
    const plan = planGateways({
      statefulSet: names.gatewayStatefulSet,
      desiredReplicas: spec.gateway.replicas,
      currentReplicas: gwSts?.spec?.replicas,
      updateRevision: observedRevision(gwSts),
      pods: gatewayPods.map(podView),
      paused: spec.gateway.rollout.paused,
      minIntervalMs: spec.gateway.rollout.minIntervalSeconds * 1000,
      logicRolledOut: logicDone,
      draining: cc.status?.gateway?.draining,
      lastDrainedMs: lastDrained === undefined ? undefined : new Date(lastDrained).getTime(),
      nowMs,
    });

    const problems = await findProblems(d, log, {
      ns,
      spec,
      sts: gwSts,
      dep: logicDep,
      stsName: names.gatewayStatefulSet,
      pods,
      nowMs,
    });
    const observe = (p: GatewayPlan): Observed => ({
      statefulSet: gwSts,
      deployment: logicDep,
      gateway: p,
      logicRolledOut: logicDone,
      images: desired.images,
      problems,
      applyErrors: errors,
      reconcilePaused: spec.paused,
      optionalApis: apis,
      internalToken: token.status,
      internalTls: trust.condition,
    });
    const statusOf = (p: GatewayPlan) =>
      withStoreCondition(computeStatus(cc, spec, observe(p), now()), cc, d.storeHealth?.health(key), now());
    const writeStatus = async (s: ChatClusterStatus) => {
      // Merge patch: a field that is gone must be sent as null to be removed.
      const gateway = { ...s.gateway, draining: s.gateway?.draining ?? null };
      const internalToken = s.internalToken && { message: null, ...s.internalToken };
      await d.api.mergePatch(resourcePath("ChatCluster", ns, name, "status"), {
        status: { ...s, gateway, ...(internalToken ? { internalToken } : {}) },
      });
    };

    // Only a StatefulSet applied in this reconcile is acted on: its replicas are known to be ours.
    if (sts !== undefined && plan.startsDrain) {
      // Record the drain before acting, so no later reconcile starts another before this pod is gone.
      const before = statusOf(plan);
      await writeStatus(before);
      cc.status = before;
      recordDrain(d.events, cc, plan, spec);
      d.metrics.gatewayDrains.inc({ reason: plan.draining?.reason === "Replace" ? "replace" : "scale_down" });
      log.info({ pod: plan.draining?.pod, reason: plan.draining?.reason }, "draining a gateway pod");
    }
    if (sts !== undefined && plan.replicas < (sts.spec?.replicas ?? 0)) {
      const full = desired.objects.find((o) => o.kind === "StatefulSet") as V1StatefulSet;
      const lowered = { ...full, spec: { ...full.spec!, replicas: plan.replicas } };
      try {
        await d.api.apply(lowered, FIELD_MANAGER);
      } catch (err) {
        errors.push(summarizeError(err, attempt("apply", "StatefulSet", names.gatewayStatefulSet)));
      }
    }
    if (sts !== undefined && plan.delete !== undefined) {
      try {
        await d.api.delete(resourcePath("Pod", ns, plan.delete.pod), { uid: plan.delete.uid });
      } catch (err) {
        // 404: already gone; 409: the name holds a replacement now. Both mean the drain is done.
        if (!isNotFound(err) && !isConflict(err))
          errors.push(summarizeError(err, attempt("delete", "Pod", plan.delete.pod)));
      }
    }

    // Every pod of both tiers runs the current token generation: new pods need no previous token.
    if (
      token.rotating &&
      sts !== undefined &&
      dep !== undefined &&
      logicDone &&
      plan.state.phase === "Settled"
    ) {
      const finished = await finishRotation(tokenDeps, cc, names);
      if (finished.error !== undefined) errors.push(finished.error);
      if (finished.done) token.status = { ...token.status, phase: "Current" };
    }
    if (errors.length > 0) d.events.record(cc, "Warning", "ReconcileFailed", errors.join(" "));
    const status = statusOf(plan);
    // An optional API asked for and missing: a Warning (rate-limited by the recorder) besides the condition.
    for (const c of status.conditions ?? []) {
      if (c.reason === "ServiceMonitorAPIMissing" || c.reason === "HTTPRouteAPIMissing")
        d.events.record(cc, "Warning", c.reason, c.message);
    }
    recordClusterConditions(d.metrics, ns, name, status.conditions ?? []);
    if (!statusEqual(cc.status, status)) {
      try {
        await writeStatus(status);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (errors.length > 0) throw new Error(errors.join(" "));
    const busy =
      problems.length > 0 || status.conditions?.some((c) => c.type === "Progressing" && c.status === "True");
    const rechecks = [
      plan.recheckMs === undefined ? undefined : Math.min(plan.recheckMs, PROGRESS_RECHECK_MS),
      busy ? PROGRESS_RECHECK_MS : undefined,
      trust.recheckMs,
    ].filter((ms): ms is number => ms !== undefined);
    return rechecks.length > 0 ? { requeueAfterMs: Math.min(...rechecks) } : {};
  };
}

function firstImage(w: V1StatefulSet | V1Deployment | undefined): string | undefined {
  return w?.spec?.template.spec?.containers[0]?.image;
}

/** The StatefulSet's update revision, once its controller has observed the latest spec. */
function observedRevision(sts: V1StatefulSet | undefined): string | undefined {
  const s = sts?.status;
  if (sts === undefined || (s?.observedGeneration ?? 0) < (sts.metadata?.generation ?? 0)) return undefined;
  return s?.updateRevision;
}

async function findProblems(
  d: ReconcilerDeps,
  log: Logger,
  o: {
    ns: string;
    spec: ReturnType<typeof buildDesired>["spec"];
    sts: V1StatefulSet | undefined;
    dep: V1Deployment | undefined;
    stsName: string;
    pods: V1Pod[];
    nowMs: number;
  },
): Promise<Problem[]> {
  let refs: Problem[] = [];
  try {
    refs = await checkReferences(references(o.spec), o.ns, readKeys(d.api, o.ns));
  } catch (err) {
    log.warn({ err: String(err) }, "could not check the Secrets and ConfigMaps the spec references");
  }
  let failedCreate: string | undefined;
  const missing = (o.sts?.status?.replicas ?? 0) < (o.sts?.spec?.replicas ?? 0);
  if (missing) {
    try {
      failedCreate = await latestFailedCreate(d.api, o.ns, o.stsName, o.nowMs);
    } catch (err) {
      log.warn({ err: String(err) }, "could not read the gateway StatefulSet's events");
    }
  }
  return diagnose({
    references: refs,
    deployment: o.dep,
    statefulSetFailedCreate: failedCreate,
    statefulSetName: o.stsName,
    unreadyPods: o.pods.filter(
      (p) =>
        p.metadata?.deletionTimestamp === undefined &&
        !p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    ),
  });
}
