import type { KubernetesObject } from "@kubernetes/client-node";
import type { ChatCluster } from "../api/chatcluster-types.ts";
import type { ResolvedSpec } from "../api/defaults.ts";
import { type Tier, tierDnsName } from "../certs/internal-pki.ts";
import { tierTlsSecret } from "./internal-trust.ts";
import { type ChildNames, childLabels, childMeta } from "./names.ts";

export const CERTIFICATE_API_VERSION = "cert-manager.io/v1";

/**
 * With spec.internalTls.issuer certManager: a cert-manager Certificate per
 * tier, writing the Secret the tier's pods mount (tls.crt, tls.key, ca.crt).
 * The Secret carries the operator's labels (secretTemplate), so the operator
 * sees it change; cert-manager renews at two thirds of the duration.
 */
export function tierCertificate(
  cc: ChatCluster,
  spec: ResolvedSpec,
  names: ChildNames,
  tier: Tier,
): KubernetesObject & { spec: Record<string, unknown> } {
  const ns = cc.metadata.namespace ?? "default";
  const secretName = tierTlsSecret(names, tier);
  const t = spec.internalTls;
  const hours = Math.max(1, Math.round(t.certificateLifetimeMs / 3_600_000));
  return {
    apiVersion: CERTIFICATE_API_VERSION,
    kind: "Certificate",
    metadata: childMeta(cc, secretName, "config"),
    spec: {
      secretName,
      secretTemplate: { labels: childLabels(cc.metadata.name, "config") },
      commonName: tierDnsName(tier, ns, cc.metadata.name),
      dnsNames: [tierDnsName(tier, ns, cc.metadata.name)],
      // cert-manager's minimum duration is one hour.
      duration: `${hours}h`,
      renewBefore: `${Math.max(1, Math.round(hours / 3))}h`,
      privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
      usages: ["digital signature", tier === "gateway" ? "server auth" : "client auth"],
      issuerRef: t.issuerRef,
    },
  };
}
