import type { V1Container, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { type Tier, tierDnsName } from "../certs/internal-pki.ts";
import type { ChildNames } from "./names.ts";
import { secretEnv } from "./pod-common.ts";

/**
 * What each tier's pod gets for the internal link's trust: its certificate
 * Secret mounted as files (the processes re-read them every 10 s, so a renewed
 * Secret applies without a pod roll) and the flags naming the other tier; and,
 * logic alone, the key it signs principals with.
 */

/** What the pods get of the internal trust; all off builds an earlier operator's templates. */
export interface InternalTrust {
  internalTls: boolean;
  principalKey: boolean;
  /**
   * The workloads are this operator's to secure (new, or marked so before):
   * they carry TRUST_MANAGED_ANNOTATION, so a later reconcile turns TLS on for
   * them; workloads an earlier operator made lack it and are not rolled unasked.
   */
  managed?: boolean;
}

/** On the gateway StatefulSet and logic Deployment (not their pod templates). */
export const TRUST_MANAGED_ANNOTATION = "chatcluster.io/internal-trust";

/** Whether a running workload carries the mark (internal-tls-step.ts). */
export function trustManaged(
  w: { metadata?: { annotations?: Record<string, string> } } | undefined,
): boolean {
  return w?.metadata?.annotations?.[TRUST_MANAGED_ANNOTATION] === "managed";
}

/** Where a tier's certificate Secret (tls.crt, tls.key, ca.crt) is mounted. */
export const INTERNAL_TLS_DIR = "/etc/chatcluster/internal-tls";
const VOLUME = "internal-tls";
/** The Secret key of logic's principal key. */
export const PRINCIPAL_KEY_KEY = "key";

export interface TierTls {
  args: string[];
  volume: V1Volume;
  mount: V1VolumeMount;
}

export function tierTlsSecret(names: ChildNames, tier: Tier): string {
  return tier === "gateway" ? names.gatewayTlsSecret : names.logicTlsSecret;
}

/**
 * The gateway serves TLS and requires logic's client certificate with logic's
 * name; logic dials TLS, presents its certificate and checks the gateway's name.
 */
export function tierTls(names: ChildNames, tier: Tier, namespace: string, chatCluster: string): TierTls {
  const files = [
    `--internal-tls-cert=${INTERNAL_TLS_DIR}/tls.crt`,
    `--internal-tls-key=${INTERNAL_TLS_DIR}/tls.key`,
    `--internal-tls-ca=${INTERNAL_TLS_DIR}/ca.crt`,
  ];
  const args =
    tier === "gateway"
      ? [...files, `--internal-tls-client-name=${tierDnsName("logic", namespace, chatCluster)}`]
      : [
          "--internal-tls",
          ...files,
          `--internal-tls-server-name=${tierDnsName("gateway", namespace, chatCluster)}`,
        ];
  return {
    args,
    // 0440 with the pod's fsGroup: the process user reads the key, no one else.
    volume: { name: VOLUME, secret: { secretName: tierTlsSecret(names, tier), defaultMode: 0o440 } },
    mount: { name: VOLUME, mountPath: INTERNAL_TLS_DIR, readOnly: true },
  };
}

/** logic's principal key, from the Secret the operator owns (never on a gateway). */
export function principalKeyEnv(names: ChildNames): NonNullable<V1Container["env"]>[number] {
  return secretEnv("CHATCLUSTER_PRINCIPAL_KEY", names.principalKeySecret, PRINCIPAL_KEY_KEY);
}

type Template = { spec?: { template?: { spec?: { volumes?: V1Volume[]; containers?: V1Container[] } } } };

/** Whether a running workload's pods mount the internal TLS Secret (an earlier operator's do not). */
export function carriesInternalTls(w: Template | undefined): boolean {
  return w?.spec?.template?.spec?.volumes?.some((v) => v.name === VOLUME) === true;
}

/** Whether a running logic Deployment's pods get the principal key. */
export function carriesPrincipalKey(w: Template | undefined): boolean {
  return (
    w?.spec?.template?.spec?.containers?.some((c) =>
      c.env?.some((e) => e.name === "CHATCLUSTER_PRINCIPAL_KEY"),
    ) === true
  );
}

/** The workload with the mark when the operator manages its trust (metadata only: no pod rolls). */
export function markTrustManaged<T extends { metadata?: { annotations?: Record<string, string> } }>(
  w: T,
  trust: InternalTrust | undefined,
): T {
  if (trust?.managed !== true) return w;
  return {
    ...w,
    metadata: {
      ...w.metadata,
      annotations: { ...w.metadata?.annotations, [TRUST_MANAGED_ANNOTATION]: "managed" },
    },
  };
}
