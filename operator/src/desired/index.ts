import type { KubernetesObject } from "@kubernetes/client-node";
import type { ChatCluster } from "../api/chatcluster-types.ts";
import { type ResolvedSpec, resolveSpec } from "../api/defaults.ts";
import { gatewayClientService, gatewayHeadlessService, gatewayPdb, gatewayStatefulSet } from "./gateway.ts";
import { resolveImages, type TierImages } from "./images.ts";
import { logicDataClaim, logicDeployment, logicPdb, logicService } from "./logic.ts";
import { type ChildNames, childNames } from "./names.ts";
import { logicRole, logicRoleBinding, logicServiceAccount } from "./rbac.ts";
import { serviceMonitor } from "./service-monitor.ts";
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
}

export interface DesiredState {
  spec: ResolvedSpec;
  names: ChildNames;
  images: TierImages;
  /** Applied in order: config and RBAC before the workloads that reference them. */
  objects: KubernetesObject[];
  /** Kinds this ChatCluster must not have (e.g. a ServiceMonitor after it was disabled), as apiVersion/kind/name. */
  absent: { apiVersion: string; kind: string; name: string }[];
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
  const logicHash = configHash(logicData, names.internalTokenSecret, spec.auth);
  const objects: KubernetesObject[] = [
    configMap(cc, names.gatewayConfig, gatewayData),
    configMap(cc, names.logicConfig, logicData),
    logicServiceAccount(cc, names),
    logicRole(cc, names),
    logicRoleBinding(cc, names),
    gatewayHeadlessService(cc, spec, names),
    gatewayClientService(cc, spec, names),
    gatewayStatefulSet(cc, spec, names, {
      image: images.gateway,
      configHash: gatewayHash,
      replicas: opts.gatewayReplicas ?? spec.gateway.replicas,
    }),
    gatewayPdb(cc, names),
  ];
  const claim = logicDataClaim(cc, spec, names);
  if (claim) objects.push(claim);
  objects.push(
    logicService(cc, spec, names),
    logicDeployment(cc, spec, names, images.logic, logicHash),
    logicPdb(cc, names),
  );
  const absent: DesiredState["absent"] = [];
  if (spec.serviceMonitor.enabled && opts.serviceMonitorAvailable)
    objects.push(serviceMonitor(cc, spec, names));
  else if (opts.serviceMonitorAvailable)
    absent.push({
      apiVersion: "monitoring.coreos.com/v1",
      kind: "ServiceMonitor",
      name: names.serviceMonitor,
    });
  return {
    spec,
    names,
    images,
    objects,
    absent,
    gatewayConfigHash: gatewayHash,
    logicConfigHash: logicHash,
  };
}
