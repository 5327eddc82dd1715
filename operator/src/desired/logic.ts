import type {
  V1Container,
  V1Deployment,
  V1PersistentVolumeClaim,
  V1PodDisruptionBudget,
  V1Service,
} from "@kubernetes/client-node";
import type { ChatCluster } from "../api/chatcluster-types.ts";
import type { ResolvedSpec } from "../api/defaults.ts";
import { hooksSecretEnv } from "./hooks-config.ts";
import { type InternalTrust, principalKeyEnv, tierTls } from "./internal-trust.ts";
import {
  type ChildNames,
  CONFIG_HASH_ANNOTATION,
  childMeta,
  METRICS_LABEL,
  selectorLabels,
} from "./names.ts";
import {
  CONTAINER_SECURITY_CONTEXT,
  fieldEnv,
  internalTokenEnv,
  OPS_PROBES,
  POD_SECURITY_CONTEXT,
  placement,
  resources,
  type SecretRolls,
  secretEnv,
  secretRollAnnotations,
} from "./pod-common.ts";
import { withTierPod } from "./tier-pod.ts";
import { JWKS_DIR, JWKS_FILE, SQLITE_DIR } from "./workload-config.ts";

/** Logic pods finish in-flight requests and hand their streams over within this. */
export const LOGIC_TERMINATION_GRACE_SECONDS = 30;

function authEnv(spec: ResolvedSpec): NonNullable<V1Container["env"]> {
  const env: NonNullable<V1Container["env"]> = [];
  const a = spec.auth;
  if (a.jwt) env.push(secretEnv("CHATCLUSTER_JWT_SECRET", a.jwt.name, a.jwt.key));
  if (a.jwks?.secretKeyRef)
    env.push(secretEnv("CHATCLUSTER_JWKS", a.jwks.secretKeyRef.name, a.jwks.secretKeyRef.key));
  if (a.jwks?.configMapKeyRef) {
    const r = a.jwks.configMapKeyRef;
    env.push({ name: "CHATCLUSTER_JWKS", valueFrom: { configMapKeyRef: { name: r.name, key: r.key } } });
  }
  if (a.apiKeys) env.push(secretEnv("CHATCLUSTER_API_KEYS", a.apiKeys.name, a.apiKeys.key));
  return env;
}

export function logicDeployment(
  cc: ChatCluster,
  spec: ResolvedSpec,
  names: ChildNames,
  image: string,
  configHash: string,
  rolls: SecretRolls,
  trust: InternalTrust = { internalTls: false, principalKey: false },
): V1Deployment {
  const selector = selectorLabels(cc.metadata.name, "logic");
  const tls = trust.internalTls
    ? tierTls(names, "logic", cc.metadata.namespace ?? "default", cc.metadata.name)
    : undefined;
  const sqlite = spec.store.kind === "sqlite";
  const mounts: { name: string; mountPath: string; readOnly?: boolean }[] = [
    { name: "tmp", mountPath: "/tmp" },
  ];
  const volumes: NonNullable<NonNullable<V1Deployment["spec"]>["template"]["spec"]>["volumes"] = [
    { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
  ];
  if (tls) {
    mounts.push(tls.mount);
    volumes.push(tls.volume);
  }
  if (sqlite) {
    mounts.push({ name: "data", mountPath: SQLITE_DIR });
    volumes.push({ name: "data", persistentVolumeClaim: { claimName: names.logicData } });
  }
  // The logic tier reads a JWKS from a file (CHATCLUSTER_JWT_JWKS_FILE), so the key is mounted, not passed in env.
  const jwks = spec.auth.jwks;
  if (jwks?.secretKeyRef || jwks?.configMapKeyRef) {
    mounts.push({ name: "jwks", mountPath: JWKS_DIR, readOnly: true });
    const items = (r: { key: string }) => [{ key: r.key, path: JWKS_FILE }];
    volumes.push(
      jwks.secretKeyRef
        ? { name: "jwks", secret: { secretName: jwks.secretKeyRef.name, items: items(jwks.secretKeyRef) } }
        : {
            name: "jwks",
            configMap: { name: jwks.configMapKeyRef!.name, items: items(jwks.configMapKeyRef!) },
          },
    );
  }
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: childMeta(cc, names.logicDeployment, "logic"),
    spec: {
      replicas: spec.logic.replicas,
      selector: { matchLabels: selector },
      // A surge pod connects to every gateway before an old one leaves, so no
      // gateway is ever without logic. SQLite is one writer on one volume: the
      // old pod must release the file first, so that store recreates instead.
      strategy: sqlite
        ? { type: "Recreate" }
        : { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: withTierPod(
        {
          metadata: {
            labels: selector,
            annotations: { [CONFIG_HASH_ANNOTATION]: configHash, ...secretRollAnnotations(rolls, "logic") },
          },
          spec: {
            serviceAccountName: names.logicServiceAccount,
            automountServiceAccountToken: true,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: LOGIC_TERMINATION_GRACE_SECONDS,
            securityContext: POD_SECURITY_CONTEXT,
            ...placement(spec.logic.pod.placement, selector),
            containers: [
              {
                name: "logic",
                image,
                imagePullPolicy: spec.images.logic.pullPolicy,
                args: [
                  "logic",
                  "--discovery=kubernetes",
                  `--discovery-service=${names.gatewayHeadlessService}`,
                  ...(tls?.args ?? []),
                ],
                envFrom: [{ configMapRef: { name: names.logicConfig } }],
                env: [
                  fieldEnv("CHATCLUSTER_LOGIC_ID", "metadata.name"),
                  fieldEnv("CHATCLUSTER_POD_NAMESPACE", "metadata.namespace"),
                  fieldEnv("CHATCLUSTER_DISCOVERY_NAMESPACE", "metadata.namespace"),
                  ...internalTokenEnv(names, rolls.tokenGeneration),
                  ...authEnv(spec),
                  ...hooksSecretEnv(spec),
                  ...(trust.principalKey ? [principalKeyEnv(names)] : []),
                ],
                ports: [
                  { name: "api", containerPort: spec.logic.ports.api, protocol: "TCP" },
                  { name: "metrics", containerPort: spec.logic.ports.metrics, protocol: "TCP" },
                ],
                ...OPS_PROBES,
                resources: resources(spec.logic.resources),
                securityContext: CONTAINER_SECURITY_CONTEXT,
                volumeMounts: mounts,
              },
            ],
            volumes,
          },
        },
        spec.logic.pod,
        spec.imagePullSecrets,
        "logic",
        "spec.logic.podTemplate",
      ),
    },
  };
}

/** The server API (publish from backends) and the ops port for scraping. */
export function logicService(cc: ChatCluster, spec: ResolvedSpec, names: ChildNames): V1Service {
  const meta = childMeta(cc, names.logicService, "logic", { [METRICS_LABEL]: "true" });
  const { type, annotations } = spec.logic.service;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: Object.keys(annotations).length > 0 ? { ...meta, annotations } : meta,
    spec: {
      type,
      selector: selectorLabels(cc.metadata.name, "logic"),
      ports: [
        { name: "api", port: spec.logic.ports.api, targetPort: "api", protocol: "TCP" },
        { name: "metrics", port: spec.logic.ports.metrics, targetPort: "metrics", protocol: "TCP" },
      ],
    },
  };
}

export function logicPdb(cc: ChatCluster, names: ChildNames): V1PodDisruptionBudget {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: childMeta(cc, names.logicPdb, "logic"),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(cc.metadata.name, "logic") } },
  };
}

/**
 * The SQLite volume. Only size may change later (expansion); the class is fixed
 * at creation. With `deletePolicy: Retain` (the default) it has no owner
 * reference, so the garbage collector keeps it (and the database) when the
 * ChatCluster is deleted; a ChatCluster of the same name takes it over. Applying
 * without the reference also removes the one an older operator set.
 */
export function logicDataClaim(
  cc: ChatCluster,
  spec: ResolvedSpec,
  names: ChildNames,
): V1PersistentVolumeClaim | undefined {
  if (spec.store.kind !== "sqlite") return undefined;
  const { ownerReferences, ...unowned } = childMeta(cc, names.logicData, "logic");
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: spec.store.deletePolicy === "Delete" ? { ...unowned, ownerReferences } : unowned,
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: spec.store.size } },
      ...(spec.store.storageClassName !== undefined ? { storageClassName: spec.store.storageClassName } : {}),
    },
  };
}
