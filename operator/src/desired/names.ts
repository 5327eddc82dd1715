import type { V1OwnerReference } from "@kubernetes/client-node";
import { API_VERSION, type ChatCluster, KIND } from "../api/chatcluster-types.ts";

/** The field manager every server-side apply of the operator uses. */
export const FIELD_MANAGER = "chatcluster-operator";
/** Every child carries this label; the operator's informers watch only labelled objects. */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "chatcluster-operator";
export const MANAGED_BY_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
export const INSTANCE_LABEL = "app.kubernetes.io/instance";
export const COMPONENT_LABEL = "app.kubernetes.io/component";
export const NAME_LABEL = "app.kubernetes.io/name";
/** Pod-template annotation: changes whenever the workload's ConfigMap content changes, so pods roll. */
export const CONFIG_HASH_ANNOTATION = "chatcluster.io/config-hash";
/** Label on Services that expose the ops port, selected by the ServiceMonitor. */
export const METRICS_LABEL = "chatcluster.io/metrics";

export type Component = "gateway" | "logic";

/** Every child's name, derived from the ChatCluster name (at most 40 characters, CRD-enforced). */
export interface ChildNames {
  gatewayStatefulSet: string;
  gatewayHeadlessService: string;
  gatewayClientService: string;
  gatewayPdb: string;
  gatewayConfig: string;
  logicDeployment: string;
  logicService: string;
  logicPdb: string;
  logicConfig: string;
  logicServiceAccount: string;
  logicRole: string;
  logicRoleBinding: string;
  logicData: string;
  internalTokenSecret: string;
  internalCaSecret: string;
  gatewayTlsSecret: string;
  logicTlsSecret: string;
  principalKeySecret: string;
  serviceMonitor: string;
  gatewayIngress: string;
  gatewayHttpRoute: string;
  gatewayNetworkPolicy: string;
  logicNetworkPolicy: string;
}

export function childNames(name: string): ChildNames {
  return {
    gatewayStatefulSet: `${name}-gateway`,
    gatewayHeadlessService: `${name}-gateway-internal`,
    gatewayClientService: `${name}-gateway`,
    gatewayPdb: `${name}-gateway`,
    gatewayConfig: `${name}-gateway-config`,
    logicDeployment: `${name}-logic`,
    logicService: `${name}-logic`,
    logicPdb: `${name}-logic`,
    logicConfig: `${name}-logic-config`,
    logicServiceAccount: `${name}-logic`,
    logicRole: `${name}-logic-endpointslices`,
    logicRoleBinding: `${name}-logic-endpointslices`,
    logicData: `${name}-logic-data`,
    internalTokenSecret: `${name}-internal-token`,
    internalCaSecret: `${name}-internal-ca`,
    gatewayTlsSecret: `${name}-gateway-tls`,
    logicTlsSecret: `${name}-logic-tls`,
    principalKeySecret: `${name}-principal-key`,
    serviceMonitor: name,
    gatewayIngress: `${name}-gateway`,
    gatewayHttpRoute: `${name}-gateway`,
    gatewayNetworkPolicy: `${name}-gateway`,
    logicNetworkPolicy: `${name}-logic`,
  };
}

/** The labels a tier's pods are selected by (immutable once a StatefulSet/Deployment exists). */
export function selectorLabels(instance: string, component: Component): Record<string, string> {
  return { [NAME_LABEL]: "chatcluster", [INSTANCE_LABEL]: instance, [COMPONENT_LABEL]: component };
}

/** The scale subresource's status.gateway.selector: a label selector string. */
export function selectorString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** What a child is part of, for its app.kubernetes.io/component label. */
export type ChildComponent = Component | "config" | "rbac" | "monitoring" | "network";

export function childLabels(instance: string, component: ChildComponent) {
  return {
    [NAME_LABEL]: "chatcluster",
    [INSTANCE_LABEL]: instance,
    [COMPONENT_LABEL]: component,
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
  };
}

export function ownerReference(cc: ChatCluster): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: cc.metadata.name,
    uid: cc.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Metadata every child gets: name, namespace, labels, the controller owner reference. */
export function childMeta(
  cc: ChatCluster,
  name: string,
  component: ChildComponent,
  extraLabels: Record<string, string> = {},
) {
  return {
    name,
    namespace: cc.metadata.namespace ?? "default",
    labels: { ...childLabels(cc.metadata.name, component), ...extraLabels },
    ownerReferences: [ownerReference(cc)],
  };
}
