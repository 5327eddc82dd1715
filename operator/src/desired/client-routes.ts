import type { KubernetesObject, V1Ingress } from "@kubernetes/client-node";
import type { ChatCluster, ParentRef } from "../api/chatcluster-types.ts";
import type { ResolvedHttpRoute, ResolvedIngress, ResolvedSpec } from "../api/defaults.ts";
import { type ChildNames, childMeta } from "./names.ts";

/**
 * Routes from outside the cluster to the gateways' client Service: an Ingress
 * or a Gateway API HTTPRoute. Both only point at the Service; how long a
 * WebSocket may stay open is the controller's setting (docs/install.md).
 */

export const HTTP_ROUTE_API_VERSION = "gateway.networking.k8s.io/v1";

export interface HttpRoute extends KubernetesObject {
  spec: {
    parentRefs: ParentRef[];
    hostnames?: string[];
    rules: {
      matches: { path: { type: "PathPrefix"; value: string } }[];
      backendRefs: { name: string; port: number }[];
      timeouts?: { request?: string; backendRequest?: string };
    }[];
  };
}

function withAnnotations<T extends { labels?: Record<string, string> }>(
  meta: T,
  annotations: Record<string, string>,
): T & { annotations?: Record<string, string> } {
  return Object.keys(annotations).length > 0 ? { ...meta, annotations } : meta;
}

export function gatewayIngress(cc: ChatCluster, names: ChildNames, ing: ResolvedIngress): V1Ingress {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: withAnnotations(childMeta(cc, names.gatewayIngress, "gateway"), ing.annotations),
    spec: {
      ...(ing.className !== undefined ? { ingressClassName: ing.className } : {}),
      ...(ing.tlsSecretName !== undefined && ing.host !== undefined
        ? { tls: [{ hosts: [ing.host], secretName: ing.tlsSecretName }] }
        : {}),
      rules: [
        {
          ...(ing.host !== undefined ? { host: ing.host } : {}),
          http: {
            paths: [
              {
                path: ing.path,
                pathType: ing.pathType,
                backend: { service: { name: names.gatewayClientService, port: { name: "client" } } },
              },
            ],
          },
        },
      ],
    },
  };
}

export function gatewayHttpRoute(
  cc: ChatCluster,
  spec: ResolvedSpec,
  names: ChildNames,
  route: ResolvedHttpRoute,
): HttpRoute {
  const meta = childMeta(cc, names.gatewayHttpRoute, "gateway");
  return {
    apiVersion: HTTP_ROUTE_API_VERSION,
    kind: "HTTPRoute",
    metadata: withAnnotations({ ...meta, labels: { ...route.labels, ...meta.labels } }, route.annotations),
    spec: {
      parentRefs: route.parentRefs,
      ...(route.hostnames.length > 0 ? { hostnames: route.hostnames } : {}),
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: route.path } }],
          backendRefs: [{ name: names.gatewayClientService, port: spec.gateway.ports.client }],
          ...(route.timeouts !== undefined ? { timeouts: route.timeouts } : {}),
        },
      ],
    },
  };
}
