import type {
  KubernetesObject,
  ObjectCache,
  V1Deployment,
  V1Secret,
  V1StatefulSet,
} from "@kubernetes/client-node";
import type { Logger } from "../../platform/logger.ts";
import type { ChatCluster } from "./api/chatcluster-types.ts";
import { buildDesired } from "./desired/index.ts";
import { generateInternalToken, internalTokenSecret } from "./desired/internal-token.ts";
import { CONFIG_HASH_ANNOTATION, FIELD_MANAGER } from "./desired/names.ts";
import type { EventRecorder } from "./event-recorder.ts";
import type { KubeApi } from "./kube-api.ts";
import { resourcePath } from "./kube-api.ts";
import { isConflict, isNotFound } from "./operator-error.ts";
import {
  forgetClusterConditions,
  type OperatorMetrics,
  recordClusterConditions,
} from "./operator-metrics.ts";
import { computeStatus, statusEqual } from "./status.ts";

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
  /** The ServiceMonitor cache; undefined while the API does not exist (it may appear later). */
  serviceMonitors: () => ObjectCache<KubernetesObject> | undefined;
  defaultImage: string;
  events: EventRecorder;
  metrics: OperatorMetrics;
  log: Logger;
  now?: () => Date;
}

/** While pods roll or scale, look again this often in case an event is missed. */
export const PROGRESS_RECHECK_MS = 15_000;

/**
 * Level-based: reads the ChatCluster from the cache, applies the whole desired
 * state with server-side apply (a no-op when nothing differs, and it reverts
 * hand edits of fields the operator owns), then writes status. The key is all
 * it gets; it never looks at which event woke it.
 */
export function createReconciler(d: ReconcilerDeps): (key: string) => Promise<ReconcileResult> {
  const now = d.now ?? (() => new Date());
  return async (key: string): Promise<ReconcileResult> => {
    const slash = key.indexOf("/");
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const cc = d.chatClusters.get(name, ns);
    // Deleted: children go with it through their owner references (garbage collector).
    if (cc === undefined || cc.metadata.deletionTimestamp !== undefined) {
      forgetClusterConditions(d.metrics, ns, name);
      return {};
    }
    const log = d.log.child({ chatcluster: key, generation: cc.metadata.generation });

    const desired = buildDesired(cc, {
      defaultImage: d.defaultImage,
      serviceMonitorAvailable: d.serviceMonitors() !== undefined,
    });
    const { names, spec } = desired;
    const prevSts = d.statefulSets.get(names.gatewayStatefulSet, ns);
    const prevDep = d.deployments.get(names.logicDeployment, ns);

    const errors: string[] = [];
    if (d.secrets.get(names.internalTokenSecret, ns) === undefined) {
      try {
        await d.api.create(
          resourcePath("Secret", ns),
          internalTokenSecret(cc, names, generateInternalToken()),
        );
        log.info({ secret: names.internalTokenSecret }, "created the internal token secret");
      } catch (err) {
        // Exists already (cache not caught up): keep it, never overwrite a live token.
        if (!isConflict(err)) errors.push(`Secret ${names.internalTokenSecret}: ${message(err)}`);
      }
    }

    let sts: V1StatefulSet | undefined;
    let dep: V1Deployment | undefined;
    for (const obj of desired.objects) {
      try {
        const applied = await d.api.apply<KubernetesObject>(obj, FIELD_MANAGER);
        d.metrics.applyTotal.inc({ kind: obj.kind ?? "", result: "success" });
        if (obj.kind === "StatefulSet") sts = applied as V1StatefulSet;
        if (obj.kind === "Deployment") dep = applied as V1Deployment;
      } catch (err) {
        d.metrics.applyTotal.inc({ kind: obj.kind ?? "", result: "error" });
        errors.push(`${obj.kind} ${obj.metadata?.name}: ${message(err)}`);
      }
    }
    for (const gone of desired.absent) {
      if (d.serviceMonitors()?.get(gone.name, ns) === undefined) continue;
      try {
        await d.api.delete(resourcePath(gone.kind, ns, gone.name));
      } catch (err) {
        if (!isNotFound(err)) errors.push(`${gone.kind} ${gone.name}: ${message(err)}`);
      }
    }

    recordChanges(d.events, cc, prevSts, prevDep, spec.gateway.replicas, spec.logic.replicas, desired);
    const applyError = errors.length > 0 ? errors.join("; ") : undefined;
    if (applyError !== undefined) d.events.record(cc, "Warning", "ReconcileFailed", applyError);

    const status = computeStatus(
      cc,
      spec,
      { statefulSet: sts ?? prevSts, deployment: dep ?? prevDep, applyError },
      now(),
    );
    recordClusterConditions(d.metrics, ns, name, status.conditions ?? []);
    if (!statusEqual(cc.status, status)) {
      try {
        await d.api.mergePatch(resourcePath("ChatCluster", ns, name, "status"), { status });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (applyError !== undefined) throw new Error(applyError);
    const progressing = status.conditions?.some((c) => c.type === "Progressing" && c.status === "True");
    return progressing ? { requeueAfterMs: PROGRESS_RECHECK_MS } : {};
  };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function recordChanges(
  events: EventRecorder,
  cc: ChatCluster,
  prevSts: V1StatefulSet | undefined,
  prevDep: V1Deployment | undefined,
  gatewayReplicas: number,
  logicReplicas: number,
  desired: { gatewayConfigHash: string; logicConfigHash: string; objects: KubernetesObject[] },
): void {
  if (prevSts === undefined) {
    events.record(
      cc,
      "Normal",
      "Created",
      `Created the gateway StatefulSet with ${gatewayReplicas} replicas`,
    );
  } else {
    const before = prevSts.spec?.replicas ?? 0;
    if (before !== gatewayReplicas) {
      events.record(cc, "Normal", "ScalingGateways", `Scaling gateways from ${before} to ${gatewayReplicas}`);
    }
    if (changedTemplate(prevSts, desired.gatewayConfigHash, desired.objects, "StatefulSet")) {
      events.record(cc, "Normal", "RollingOutGateways", "Rolling out a new gateway pod template");
    }
  }
  if (prevDep === undefined) {
    events.record(cc, "Normal", "Created", `Created the logic Deployment with ${logicReplicas} replicas`);
  } else {
    const before = prevDep.spec?.replicas ?? 0;
    if (before !== logicReplicas) {
      events.record(cc, "Normal", "ScalingLogic", `Scaling logic from ${before} to ${logicReplicas}`);
    }
    if (changedTemplate(prevDep, desired.logicConfigHash, desired.objects, "Deployment")) {
      events.record(cc, "Normal", "RollingOutLogic", "Rolling out a new logic pod template");
    }
  }
}

type Workload = V1StatefulSet | V1Deployment;

function changedTemplate(prev: Workload, hash: string, objects: KubernetesObject[], kind: string): boolean {
  const next = objects.find((o) => o.kind === kind) as Workload | undefined;
  const prevTemplate = prev.spec?.template;
  const prevHash = prevTemplate?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
  const prevImage = prevTemplate?.spec?.containers[0]?.image;
  const nextImage = next?.spec?.template.spec?.containers[0]?.image;
  return prevHash !== hash || prevImage !== nextImage;
}
