import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type {
  KubeConfig,
  KubernetesObject,
  V1Deployment,
  V1Pod,
  V1Secret,
  V1StatefulSet,
} from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import type { Logger } from "../../platform/logger.ts";
import type { ChatCluster } from "./api/chatcluster-types.ts";
import { resolveSpec } from "./api/defaults.ts";
import type { OperatorConfig } from "./config.ts";
import { Controller } from "./controller.ts";
import {
  COMPONENT_LABEL,
  childNames,
  INSTANCE_LABEL,
  MANAGED_BY_SELECTOR,
  NAME_LABEL,
} from "./desired/names.ts";
import { EventRecorder } from "./event-recorder.ts";
import { type KeptInformer, keepInformer } from "./informers.ts";
import { KubeApi } from "./kube-api.ts";
import { LeaderElector } from "./leader-election.ts";
import { createOperatorMetrics, type OperatorMetrics } from "./operator-metrics.ts";
import { OptionalApis } from "./optional-apis.ts";
import { createReconciler } from "./reconciler.ts";
import { RetiredTokens } from "./retired-tokens.ts";
import { references } from "./rollout/reference-check.ts";
import { createStoreHealthMonitor } from "./store-health-wiring.ts";
import { WorkQueue } from "./work-queue.ts";

/** Every kind the operator owns and watches (by the managed-by label). */
export const OWNED_KINDS = [
  "ConfigMap",
  "Secret",
  "Service",
  "ServiceAccount",
  "Role",
  "RoleBinding",
  "StatefulSet",
  "Deployment",
  "PodDisruptionBudget",
  "PersistentVolumeClaim",
  "Ingress",
  "NetworkPolicy",
] as const;

/**
 * The tiers' pods: the gateway steps wait on them (gone, Ready) and status
 * explains them. Pods carry the template's labels only, not managed-by.
 */
export const WORKLOAD_POD_SELECTOR = `${NAME_LABEL}=chatcluster,${COMPONENT_LABEL} in (gateway,logic)`;

export interface RunningOperator {
  readonly identity: string;
  readonly metrics: OperatorMetrics;
  isLeader(): boolean;
  /** null when ready: caches listed once. */
  notReadyReason(): string | null;
  /** Reverse start order: workers, leader lease (released), informers. */
  stop(): Promise<void>;
}

export interface OperatorDeps {
  kubeConfig: KubeConfig;
  registry: Registry;
  log: Logger;
  /** Namespace this process runs in, when known (in-cluster). */
  podNamespace: string | undefined;
  /** Called when leadership is lost: the process should exit and restart clean. */
  onLostLeadership(): void;
}

/**
 * Starts the operator in the controller-runtime order: caches (informers),
 * then leader election, then workers once leading. Informers run on standbys
 * too, so a new leader starts with warm caches.
 */
export async function startOperator(config: OperatorConfig, deps: OperatorDeps): Promise<RunningOperator> {
  const { log, kubeConfig } = deps;
  const identity =
    config.operatorId !== "" ? config.operatorId : `${hostname()}_${randomBytes(4).toString("hex")}`;
  const metrics = createOperatorMetrics(deps.registry, [
    "ChatCluster",
    ...OWNED_KINDS,
    "Pod",
    "ServiceMonitor",
    "HTTPRoute",
    "Certificate",
    "CustomResourceDefinition",
  ]);
  const api = new KubeApi(kubeConfig);
  const queue = new WorkQueue({
    hooks: {
      onAdd: () => metrics.workqueueAdds.inc(),
      onRetry: () => metrics.workqueueRetries.inc(),
      onDepth: (n) => metrics.workqueueDepth.set(n),
    },
  });

  const enqueue = (obj: KubernetesObject) => {
    queue.add(`${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`);
  };
  // By the controller owner reference, else by the instance label: pods belong to a
  // StatefulSet or ReplicaSet, and a retained SQLite claim has no owner on purpose.
  const enqueueOwner = (obj: KubernetesObject) => {
    const owner = obj.metadata?.ownerReferences?.find(
      (r) => r.controller === true && r.kind === "ChatCluster",
    );
    const instance = owner?.name ?? obj.metadata?.labels?.[INSTANCE_LABEL];
    if (instance !== undefined) queue.add(`${obj.metadata?.namespace ?? ""}/${instance}`);
  };
  const onRestart = (kind: string) => metrics.informerRestarts.inc({ kind });
  const common = { kubeConfig, api, namespace: config.watchNamespace, log, onRestart };

  const chatClusters = keepInformer<ChatCluster & KubernetesObject>({
    ...common,
    kind: "ChatCluster",
    // A deleted key reconciles to nothing but dropping its status metrics.
    handlers: { onChange: enqueue, onDelete: enqueue },
  });
  // A deleted internal token Secret is remembered before its owner is enqueued: the next token rotates from it.
  const retired = new RetiredTokens();
  const owned = new Map<string, KeptInformer<KubernetesObject>>();
  for (const kind of OWNED_KINDS) {
    const onDelete =
      kind === "Secret"
        ? (obj: KubernetesObject) => {
            retired.record(obj as V1Secret);
            enqueueOwner(obj);
          }
        : enqueueOwner;
    owned.set(
      kind,
      keepInformer<KubernetesObject>({
        ...common,
        kind,
        labelSelector: MANAGED_BY_SELECTOR,
        handlers: { onChange: enqueueOwner, onDelete },
      }),
    );
  }
  // Every Secret's name and version, never its data: a new value in a Secret a ChatCluster reads (spec.auth)
  // wakes that ChatCluster at once, so logic rolls onto it (internal-token-step.ts) and status stays current;
  // so does its internal token Secret recreated by hand (without the label the owned informer selects).
  const enqueueReaders = (secret: KubernetesObject) => {
    const ns = secret.metadata?.namespace ?? "";
    const name = secret.metadata?.name;
    for (const cc of chatClusters.cache.list(ns)) {
      const refs = references(resolveSpec(cc.spec));
      if (
        name === childNames(cc.metadata.name).internalTokenSecret ||
        refs.some((r) => r.kind === "Secret" && r.name === name)
      )
        enqueue(cc);
    }
  };
  const referencedSecrets = keepInformer<KubernetesObject>({
    ...common,
    kind: "Secret",
    metadataOnly: true,
    handlers: { onChange: enqueueReaders, onDelete: enqueueReaders },
  });
  const pods = keepInformer<KubernetesObject>({
    ...common,
    kind: "Pod",
    labelSelector: WORKLOAD_POD_SELECTOR,
    handlers: { onChange: enqueueOwner, onDelete: enqueueOwner },
  });
  // Optional APIs (ServiceMonitor, HTTPRoute, Certificate): their children are watched only while served.
  const optional = new OptionalApis({
    ...common,
    namespace: config.watchNamespace,
    childHandlers: { onChange: enqueueOwner, onDelete: enqueueOwner },
    // Every ChatCluster may now need (or must lose) such a child, or a condition changes.
    onChange: () => {
      for (const cc of chatClusters.cache.list()) enqueue(cc);
    },
    intervalMs: config.discoveryInterval,
  });
  const informers: KeptInformer<KubernetesObject>[] = [
    chatClusters,
    ...owned.values(),
    referencedSecrets,
    pods,
  ];
  await Promise.all([...informers.map((i) => i.start()), optional.start()]);

  const events = new EventRecorder(api, log.child({ part: "events" }), identity, () =>
    metrics.eventsDropped.inc(),
  );
  const storeHealth = createStoreHealthMonitor(config, metrics, log, (key) => queue.add(key));
  const reconcile = createReconciler({
    api,
    chatClusters: chatClusters.cache,
    statefulSets: owned.get("StatefulSet")!.cache as KeptInformer<V1StatefulSet>["cache"],
    deployments: owned.get("Deployment")!.cache as KeptInformer<V1Deployment>["cache"],
    secrets: owned.get("Secret")!.cache as KeptInformer<V1Secret>["cache"],
    pods: pods.cache as KeptInformer<V1Pod>["cache"],
    retired,
    optionalApis: optional,
    cacheFor: (kind) =>
      kind === "ServiceMonitor" || kind === "HTTPRoute" || kind === "Certificate"
        ? optional.cache(kind)
        : owned.get(kind as (typeof OWNED_KINDS)[number])?.cache,
    defaultImage: config.workloadImage,
    events,
    metrics,
    storeHealth,
    log: log.child({ part: "reconciler" }),
  });
  const controller = new Controller(queue, reconcile, metrics, log, config.maxConcurrentReconciles);
  const lead = () => {
    metrics.leader.set(1);
    controller.start();
    // Level-triggered: look at everything once on taking over.
    for (const cc of chatClusters.cache.list()) enqueue(cc);
  };

  let elector: LeaderElector | undefined;
  const leaseApi = new KubeApi(kubeConfig, {
    timeoutMs: Math.max(500, Math.floor(config.renewDeadline / 2)),
  });
  if (config.leaderElect) {
    const leaseNamespace = config.leaseNamespace || deps.podNamespace || config.watchNamespace || "default";
    elector = new LeaderElector({
      // Its own client with a short timeout: a hung renew must not outlast the renew deadline,
      // or this process could keep acting as leader after the Lease expired for the others.
      api: leaseApi,
      namespace: leaseNamespace,
      name: config.leaseName,
      identity,
      leaseDurationMs: config.leaseDuration,
      renewDeadlineMs: config.renewDeadline,
      retryPeriodMs: config.retryPeriod,
      log: log.child({ part: "leader-election" }),
      onStartedLeading: lead,
      onStoppedLeading: () => {
        metrics.leader.set(0);
        deps.onLostLeadership();
      },
    });
    log.info({ lease: `${leaseNamespace}/${config.leaseName}`, identity }, "campaigning for leadership");
    elector.start();
  } else {
    lead();
  }

  return {
    identity,
    metrics,
    isLeader: () => (elector === undefined ? true : elector.isLeader),
    notReadyReason: () => {
      const all = [...informers, ...optional.informers()];
      const pending = all.filter((i) => !i.synced).map((i) => i.kind);
      return pending.length === 0 ? null : `caches not synced: ${pending.join(", ")}`;
    },
    async stop() {
      await controller.stop();
      await storeHealth.stop();
      if (elector !== undefined) await elector.stop();
      metrics.leader.set(0);
      await Promise.all([...informers.map((i) => i.stop()), optional.stop()]);
      api.close();
      leaseApi.close();
    },
  };
}
