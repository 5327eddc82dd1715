import type {
  V1Affinity,
  V1Container,
  V1PodSecurityContext,
  V1SecurityContext,
  V1Toleration,
  V1TopologySpreadConstraint,
} from "@kubernetes/client-node";
import type { Placement } from "../api/chatcluster-types.ts";
import type { ResolvedSpec } from "../api/defaults.ts";

/** The image's unprivileged user (Dockerfile: USER 65532:65532, the conventional "nonroot"). */
export const RUN_AS_USER = 65532;

export const POD_SECURITY_CONTEXT: V1PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: RUN_AS_USER,
  runAsGroup: RUN_AS_USER,
  fsGroup: RUN_AS_USER,
  seccompProfile: { type: "RuntimeDefault" },
};

export const CONTAINER_SECURITY_CONTEXT: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
};

/**
 * Both tiers' probes on the ops port: /readyz (a gateway fails it as soon as it
 * starts draining), /healthz for liveness.
 */
export const OPS_PROBES = {
  readinessProbe: {
    httpGet: { path: "/readyz", port: "metrics" },
    periodSeconds: 5,
    timeoutSeconds: 2,
    failureThreshold: 2,
  },
  livenessProbe: {
    httpGet: { path: "/healthz", port: "metrics" },
    periodSeconds: 10,
    timeoutSeconds: 3,
    failureThreshold: 3,
  },
} satisfies Pick<V1Container, "readinessProbe" | "livenessProbe">;

/** Placement fields of a pod spec; spread constraints without a selector get the tier's own. */
export function placement(p: Placement, selector: Record<string, string>) {
  const out: {
    nodeSelector?: Record<string, string>;
    tolerations?: V1Toleration[];
    affinity?: V1Affinity;
    topologySpreadConstraints?: V1TopologySpreadConstraint[];
  } = {};
  if (p.nodeSelector !== undefined) out.nodeSelector = p.nodeSelector;
  if (p.tolerations !== undefined) out.tolerations = p.tolerations as V1Toleration[];
  if (p.affinity !== undefined) out.affinity = p.affinity as V1Affinity;
  if (p.topologySpreadConstraints !== undefined) {
    out.topologySpreadConstraints = p.topologySpreadConstraints.map((c) =>
      "labelSelector" in c
        ? (c as unknown as V1TopologySpreadConstraint)
        : ({ ...c, labelSelector: { matchLabels: selector } } as unknown as V1TopologySpreadConstraint),
    );
  }
  return out;
}

/** Env var from the pod's own metadata (downward API). */
export function fieldEnv(name: string, fieldPath: string): NonNullable<V1Container["env"]>[number] {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

export function secretEnv(
  name: string,
  secret: string,
  key: string,
): NonNullable<V1Container["env"]>[number] {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

export function resources(r: ResolvedSpec["gateway"]["resources"]) {
  return {
    ...(r.limits ? { limits: r.limits } : {}),
    ...(r.requests ? { requests: r.requests } : {}),
  } as V1Container["resources"];
}

/**
 * What rolls a tier when a secret it reads at start is replaced: the internal
 * token's generation (both tiers) and the revision of the auth secrets' values
 * (logic). Each appears only once it is above 0, so a ChatCluster whose
 * secrets were never replaced keeps the template an older operator built.
 */
export interface SecretRolls {
  tokenGeneration: number;
  authRevision: number;
}

export const TOKEN_GENERATION_ANNOTATION = "chatcluster.io/internal-token-generation";
export const AUTH_REVISION_ANNOTATION = "chatcluster.io/auth-revision";

export function secretRollAnnotations(rolls: SecretRolls, tier: "gateway" | "logic"): Record<string, string> {
  return {
    ...(rolls.tokenGeneration > 0 ? { [TOKEN_GENERATION_ANNOTATION]: String(rolls.tokenGeneration) } : {}),
    ...(tier === "logic" && rolls.authRevision > 0
      ? { [AUTH_REVISION_ANNOTATION]: String(rolls.authRevision) }
      : {}),
  };
}

/**
 * The shared secret of the gateways' internal port: gateways check it, logic
 * presents it. From the first rotation on, the previous token too (key
 * `previous`, present only while a rotation rolls out), so pods of both
 * generations reach each other (docs/push-stream.md).
 */
export function internalTokenEnv(
  names: { internalTokenSecret: string },
  tokenGeneration: number,
): NonNullable<V1Container["env"]> {
  const env = [secretEnv("CHATCLUSTER_INTERNAL_SECRET", names.internalTokenSecret, "token")];
  if (tokenGeneration > 0) {
    env.push({
      name: "CHATCLUSTER_INTERNAL_SECRET_PREVIOUS",
      valueFrom: { secretKeyRef: { name: names.internalTokenSecret, key: "previous", optional: true } },
    });
  }
  return env;
}
