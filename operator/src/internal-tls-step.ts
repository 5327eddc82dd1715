import type { ObjectCache, V1Secret } from "@kubernetes/client-node";
import type { Logger } from "../../platform/logger.ts";
import type { ChatCluster } from "./api/chatcluster-types.ts";
import type { ResolvedSpec } from "./api/defaults.ts";
import { summarizeError } from "./api-error-summary.ts";
import { planPki, propagationFor } from "./certs/internal-pki.ts";
import { caSecret, leafSecret, principalKeySecret, readPki } from "./certs/pki-secrets.ts";
import { getFresh } from "./cluster-reads.ts";
import {
  carriesInternalTls,
  carriesPrincipalKey,
  type InternalTrust,
  trustManaged,
} from "./desired/internal-trust.ts";
import type { ChildNames } from "./desired/names.ts";
import type { EventRecorder } from "./event-recorder.ts";
import type { LiveWorkloads } from "./internal-token-step.ts";
import type { KubeApi } from "./kube-api.ts";
import { resourcePath } from "./kube-api.ts";
import { isConflict } from "./operator-error.ts";

/**
 * The internal link's trust for one reconcile: decides whether the pod
 * templates carry TLS and the principal key, keeps logic's principal key
 * Secret, and with issuer operator issues and renews the certificates
 * (certs/internal-pki.ts). Runs before the desired state is built.
 *
 * A ChatCluster whose workloads exist without TLS (made by an earlier
 * operator) keeps running without it until spec.internalTls.enabled is set:
 * turning TLS on rolls both tiers, and while they roll a logic pod of one
 * kind cannot reach a gateway of the other, so it is never done unasked.
 */

export interface TrustStepDeps {
  api: KubeApi;
  secrets: ObjectCache<V1Secret>;
  events: EventRecorder;
  log: Logger;
  certManagerAvailable: boolean;
  nowMs: number;
}

export interface TrustStep {
  trust: InternalTrust;
  /** The InternalTLSReady condition. */
  condition: { ready: boolean; reason: string; message: string };
  /** Look again after this long (a renewal or a CA rotation phase is due). */
  recheckMs?: number;
  errors: string[];
}

/** A reconcile is asked for at least this often while certificates are issued here (timers cap near 24 days). */
export const CERT_RECHECK_MAX_MS = 3_600_000;

export async function ensureInternalTrust(
  d: TrustStepDeps,
  cc: ChatCluster,
  spec: ResolvedSpec,
  names: ChildNames,
  live: LiveWorkloads,
): Promise<TrustStep> {
  const ns = cc.metadata.namespace ?? "default";
  const errors: string[] = [];
  const t = spec.internalTls;
  // New workloads, or ones this operator marked before; an earlier operator's are left as they run.
  const managed =
    (live.statefulSet === undefined && live.deployment === undefined) ||
    trustManaged(live.statefulSet) ||
    trustManaged(live.deployment) ||
    t.explicit;
  const liveTls = carriesInternalTls(live.statefulSet) || carriesInternalTls(live.deployment);
  const principalKey = managed || carriesPrincipalKey(live.deployment);
  if (principalKey) {
    const err = await ensurePrincipalKey(d, cc, names);
    if (err !== undefined) errors.push(err);
  }
  const off = (reason: string, message: string): TrustStep => ({
    trust: { internalTls: false, principalKey, managed },
    condition: { ready: false, reason, message },
    errors,
  });
  if (!t.enabled)
    return off(
      "Disabled",
      "spec.internalTls.enabled is false: the internal link runs h2c with the shared secret alone",
    );
  if (!managed && !liveTls)
    return off(
      "NotEnabledOnExistingWorkloads",
      "these workloads were created without internal TLS: set spec.internalTls.enabled to true to turn it on (both tiers roll, and logic reaches only gateways of its own kind until they have)",
    );

  if (t.issuer === "certManager") {
    if (!d.certManagerAvailable) {
      const message =
        "spec.internalTls.issuer is certManager but the cluster does not serve cert-manager.io/v1 Certificate: install cert-manager, or set the issuer to operator";
      d.events.record(cc, "Warning", "CertManagerAPIMissing", message);
      // Pods that already mount the Secrets keep them; new ones would wait for Secrets nothing writes.
      return liveTls
        ? {
            trust: { internalTls: true, principalKey, managed },
            condition: { ready: false, reason: "CertManagerAPIMissing", message },
            errors,
          }
        : off("CertManagerAPIMissing", message);
    }
    const issued = await Promise.all(
      [names.gatewayTlsSecret, names.logicTlsSecret].map(async (n) => {
        const s =
          d.secrets.get(n, ns) ?? (await getFresh<V1Secret>(d.api, "Secret", ns, n).catch(() => undefined));
        return s?.data?.["ca.crt"] !== undefined && s.data["tls.crt"] !== undefined;
      }),
    );
    return {
      trust: { internalTls: true, principalKey, managed },
      condition: issued.every(Boolean)
        ? {
            ready: true,
            reason: "CertManagerIssued",
            message: "cert-manager issued both tiers' certificates",
          }
        : {
            ready: false,
            reason: "WaitingForCertManager",
            message: `waiting for cert-manager to write Secrets ${names.gatewayTlsSecret} and ${names.logicTlsSecret} with tls.crt, tls.key and ca.crt (see the Certificates of the same names)`,
          },
      errors,
    };
  }

  const read = async (n: string) =>
    d.secrets.get(n, ns) ?? (await getFresh<V1Secret>(d.api, "Secret", ns, n));
  const [caS, gwS, lgS] = await Promise.all(
    [names.internalCaSecret, names.gatewayTlsSecret, names.logicTlsSecret].map(read),
  );
  const plan = planPki(
    readPki({ ca: caS, gateway: gwS, logic: lgS }, d.nowMs),
    {
      namespace: ns,
      chatCluster: cc.metadata.name,
      leafLifetimeMs: t.certificateLifetimeMs,
      propagationMs: propagationFor(t.certificateLifetimeMs),
    },
    d.nowMs,
  );
  // The CA first: a leaf must never be written signed by a CA that was not.
  const writes: [boolean, V1Secret | undefined, V1Secret][] = [
    [plan.changed.ca, caS, caSecret(cc, names, plan.state.ca)],
    [plan.changed.gateway, gwS, leafSecret(cc, names.gatewayTlsSecret, plan.state.gateway)],
    [plan.changed.logic, lgS, leafSecret(cc, names.logicTlsSecret, plan.state.logic)],
  ];
  let written = true;
  for (const [changed, cached, body] of writes) {
    if (!changed) continue;
    const err = await writeSecret(d.api, ns, cached, body);
    if (err === "conflict") {
      written = false;
      break;
    }
    if (err !== undefined) {
      errors.push(err);
      written = false;
      break;
    }
  }
  if (written) for (const note of plan.notes) d.events.record(cc, "Normal", "InternalCertificates", note);
  const recheckMs = written
    ? Math.min(CERT_RECHECK_MAX_MS, Math.max(1000, plan.nextCheckMs - d.nowMs))
    : 1000;
  return {
    trust: { internalTls: true, principalKey, managed },
    condition: written
      ? {
          ready: true,
          reason: "OperatorIssued",
          message: `the ChatCluster's CA (Secret ${names.internalCaSecret}) signs both tiers' certificates; next renewal step at ${new Date(plan.nextCheckMs).toISOString()}`,
        }
      : { ready: false, reason: "IssuingCertificates", message: "writing the internal certificates" },
    recheckMs,
    errors,
  };
}

/** Creates the Secret, or replaces it at the version read; "conflict" when the read was stale. */
async function writeSecret(
  api: KubeApi,
  ns: string,
  cached: V1Secret | undefined,
  body: V1Secret,
): Promise<string | undefined> {
  const name = body.metadata?.name ?? "";
  try {
    if (cached === undefined) await api.create(resourcePath("Secret", ns), body);
    else
      await api.replace(resourcePath("Secret", ns, name), {
        ...body,
        metadata: { ...body.metadata, resourceVersion: cached.metadata?.resourceVersion },
      });
    return undefined;
  } catch (err) {
    if (isConflict(err)) return "conflict";
    return summarizeError(err, {
      verb: cached === undefined ? "create" : "update",
      kind: "Secret",
      name,
      namespace: ns,
    });
  }
}

/** Created once; its value never changes here (a rotation is three logic rollouts: docs/logic.md). */
async function ensurePrincipalKey(
  d: TrustStepDeps,
  cc: ChatCluster,
  names: ChildNames,
): Promise<string | undefined> {
  const ns = cc.metadata.namespace ?? "default";
  const have =
    d.secrets.get(names.principalKeySecret, ns) ??
    (await getFresh<V1Secret>(d.api, "Secret", ns, names.principalKeySecret));
  if (have !== undefined) return undefined;
  const err = await writeSecret(d.api, ns, undefined, principalKeySecret(cc, names));
  return err === "conflict" ? undefined : err;
}

/** spec.paused: nothing is written; the templates keep what the running workloads carry. */
export function trustWhilePaused(live: LiveWorkloads): TrustStep {
  const internalTls = carriesInternalTls(live.statefulSet) || carriesInternalTls(live.deployment);
  return {
    trust: {
      internalTls,
      principalKey: carriesPrincipalKey(live.deployment),
      managed: trustManaged(live.statefulSet) || trustManaged(live.deployment),
    },
    condition: { ready: internalTls, reason: "Paused", message: "spec.paused: certificates are not renewed" },
    errors: [],
  };
}
