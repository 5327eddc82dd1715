import type { KubernetesObject } from "@kubernetes/client-node";
import type { ChatCluster } from "../api/chatcluster-types.ts";
import { type ResolvedSpec, resolveSpec } from "../api/defaults.ts";
import { CERTIFICATE_API_VERSION, tierCertificate } from "./cert-manager.ts";
import { gatewayHttpRoute, gatewayIngress, HTTP_ROUTE_API_VERSION } from "./client-routes.ts";
import { gatewayClientService, gatewayHeadlessService, gatewayPdb, gatewayStatefulSet } from "./gateway.ts";
import { resolveImages, type TierImages } from "./images.ts";
import { type InternalTrust, markTrustManaged } from "./internal-trust.ts";
import { logicDataClaim, logicDeployment, logicPdb, logicService } from "./logic.ts";
import { type ChildNames, childNames } from "./names.ts";
import { gatewayNetworkPolicy, logicNetworkPolicy } from "./network-policies.ts";
import type { SecretRolls } from "./pod-common.ts";
import { logicRole, logicRoleBinding, logicServiceAccount } from "./rbac.ts";
import { SERVICE_MONITOR_API_VERSION, serviceMonitor } from "./service-monitor.ts";
import { PatchError } from "./strategic-merge.ts";
import { configHash, configMap, gatewayConfigData, logicConfigData } from "./workload-config.ts";

export interface DesiredOptions {
  /** The operator's --workload-image: the base for image fields the spec leaves unset, unless one is recorded. */
  defaultImage: string;
  /** The image each tier was resolved to before (status, else the running workload); see images.ts. */
  recordedImages?: Partial<TierImages>;
  /** The gateway StatefulSet's replicas when the operator is stepping towards spec.gateway.replicas. */
  gatewayReplicas?: number;
  /** Whether monitoring.coreos.com/v1 ServiceMonitor exists in the cluster (discovery). */
  serviceMonitorAvailable: boolean;
  /** Whether gateway.networking.k8s.io/v1 HTTPRoute exists in the cluster (discovery). */
  httpRouteAvailable?: boolean;
  /** Whether cert-manager.io/v1 Certificate exists in the cluster (discovery). */
  certificateAvailable?: boolean;
  /** The internal token's generation and the auth secrets' revision (internal-token-step.ts); 0 when never replaced. */
  secretRolls?: SecretRolls;
  /**
   * What the pod templates carry of the internal trust (internal-tls-step.ts
   * decides from the spec and the running workloads); unset: neither, the
   * templates an earlier operator built.
   */
  trust?: InternalTrust;
}

/** A child this ChatCluster must not have (any more), to delete where it exists. */
export interface AbsentChild {
  apiVersion: string;
  kind: string;
  name: string;
}

export interface DesiredState {
  spec: ResolvedSpec;
  names: ChildNames;
  images: TierImages;
  /** Applied in order: config and RBAC before the workloads that reference them. */
  objects: KubernetesObject[];
  /** Children this ChatCluster must not have (e.g. a ServiceMonitor after it was disabled). */
  absent: AbsentChild[];
  /**
   * Spec fields that cannot be built (a podTemplate patch that does not apply),
   * one sentence each; the workload they belong to is left out of `objects`,
   * so it keeps its current template until the field is corrected.
   */
  invalid: string[];
  gatewayConfigHash: string;
  logicConfigHash: string;
}

/**
 * The whole desired state of one ChatCluster: a pure function of the resource
 * and the operator's options. No I/O, no clock, no randomness (the internal
 * token Secret is created separately, once).
 */
export function buildDesired(cc: ChatCluster, opts: DesiredOptions): DesiredState {
  const spec = resolveSpec(cc.spec);
  const names = childNames(cc.metadata.name);
  const images = resolveImages({
    fields: spec.images,
    policy: spec.upgradePolicy,
    defaultImage: opts.defaultImage,
    recorded: opts.recordedImages ?? {},
  });
  const gatewayData = gatewayConfigData(spec);
  const logicData = logicConfigData(spec, names);
  const gatewayHash = configHash(gatewayData, names.internalTokenSecret);
  // The hooks secret's name joins the hash only when set: clusters without hooks keep their hash.
  const hooksSecret = spec.logic.hooks?.secretKeyRef;
  const logicHash = configHash(
    logicData,
    names.internalTokenSecret,
    spec.auth,
    ...(hooksSecret ? [hooksSecret] : []),
  );
  const rolls = opts.secretRolls ?? { tokenGeneration: 0, authRevision: 0 };
  const invalid: string[] = [];
  /** A workload whose podTemplate patch does not apply is left as it is. */
  const workload = <T>(build: () => T): T[] => {
    try {
      return [build()];
    } catch (err) {
      if (!(err instanceof PatchError)) throw err;
      invalid.push(err.message);
      return [];
    }
  };
  const objects: KubernetesObject[] = [
    configMap(cc, names.gatewayConfig, gatewayData),
    configMap(cc, names.logicConfig, logicData),
    logicServiceAccount(cc, names),
    logicRole(cc, names),
    logicRoleBinding(cc, names),
    gatewayHeadlessService(cc, spec, names),
    gatewayClientService(cc, spec, names),
    ...workload(() =>
      markTrustManaged(
        gatewayStatefulSet(cc, spec, names, {
          image: images.gateway,
          configHash: gatewayHash,
          replicas: opts.gatewayReplicas ?? spec.gateway.replicas,
          rolls,
          internalTls: opts.trust?.internalTls ?? false,
        }),
        opts.trust,
      ),
    ),
    gatewayPdb(cc, names),
  ];
  const claim = logicDataClaim(cc, spec, names);
  if (claim) objects.push(claim);
  objects.push(
    logicService(cc, spec, names),
    ...workload(() =>
      markTrustManaged(
        logicDeployment(cc, spec, names, images.logic, logicHash, rolls, opts.trust),
        opts.trust,
      ),
    ),
    logicPdb(cc, names),
  );
  const absent: AbsentChild[] = [];
  const optional = (want: KubernetesObject | undefined, available: boolean, gone: AbsentChild) => {
    if (!available) return;
    if (want !== undefined) objects.push(want);
    else absent.push(gone);
  };
  const netpol = spec.networkPolicy.enabled;
  optional(netpol ? gatewayNetworkPolicy(cc, spec, names) : undefined, true, {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    name: names.gatewayNetworkPolicy,
  });
  optional(netpol ? logicNetworkPolicy(cc, spec, names) : undefined, true, {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    name: names.logicNetworkPolicy,
  });
  const ingress = spec.gateway.ingress;
  optional(ingress && gatewayIngress(cc, names, ingress), true, {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    name: names.gatewayIngress,
  });
  const route = spec.gateway.httpRoute;
  optional(route && gatewayHttpRoute(cc, spec, names, route), opts.httpRouteAvailable === true, {
    apiVersion: HTTP_ROUTE_API_VERSION,
    kind: "HTTPRoute",
    name: names.gatewayHttpRoute,
  });
  const certManager = opts.trust?.internalTls === true && spec.internalTls.issuer === "certManager";
  for (const tier of ["gateway", "logic"] as const) {
    optional(
      certManager ? tierCertificate(cc, spec, names, tier) : undefined,
      opts.certificateAvailable === true,
      {
        apiVersion: CERTIFICATE_API_VERSION,
        kind: "Certificate",
        name: tier === "gateway" ? names.gatewayTlsSecret : names.logicTlsSecret,
      },
    );
  }
  optional(
    spec.serviceMonitor.enabled ? serviceMonitor(cc, spec, names) : undefined,
    opts.serviceMonitorAvailable,
    { apiVersion: SERVICE_MONITOR_API_VERSION, kind: "ServiceMonitor", name: names.serviceMonitor },
  );
  return {
    spec,
    names,
    images,
    objects,
    absent,
    invalid,
    gatewayConfigHash: gatewayHash,
    logicConfigHash: logicHash,
  };
}
