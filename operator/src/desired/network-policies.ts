import type { KubernetesObject } from "@kubernetes/client-node";
import type { ChatCluster, NetworkPeer } from "../api/chatcluster-types.ts";
import type { ResolvedSpec } from "../api/defaults.ts";
import { type ChildNames, type Component, childMeta, selectorLabels } from "./names.ts";

/**
 * One ingress NetworkPolicy per tier, in the ChatCluster's namespace. The
 * gateways' internal port admits only this ChatCluster's logic pods (the
 * shared internal token stays the second lock); the client port, the server
 * API and the ops ports admit what spec.networkPolicy lists, anyone when it
 * lists nothing. Ports are named, so a port change needs no policy change.
 * Egress is not restricted.
 */

/** An ingress rule as the API takes it (the client library's model calls `from` `_from`). */
export interface IngressRule {
  ports: { port: string; protocol: "TCP" }[];
  from?: NetworkPeer[];
}

export interface NetworkPolicy extends KubernetesObject {
  spec: {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: ["Ingress"];
    ingress: IngressRule[];
  };
}

function rule(port: string, from: readonly NetworkPeer[]): IngressRule {
  return { ports: [{ port, protocol: "TCP" }], ...(from.length > 0 ? { from: [...from] } : {}) };
}

function policy(cc: ChatCluster, name: string, tier: Component, ingress: IngressRule[]): NetworkPolicy {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: childMeta(cc, name, "network"),
    spec: {
      podSelector: { matchLabels: selectorLabels(cc.metadata.name, tier) },
      policyTypes: ["Ingress"],
      ingress,
    },
  };
}

export function gatewayNetworkPolicy(cc: ChatCluster, spec: ResolvedSpec, names: ChildNames): NetworkPolicy {
  const np = spec.networkPolicy;
  return policy(cc, names.gatewayNetworkPolicy, "gateway", [
    rule("internal", [{ podSelector: { matchLabels: selectorLabels(cc.metadata.name, "logic") } }]),
    rule("client", np.client),
    rule("metrics", np.metrics),
  ]);
}

export function logicNetworkPolicy(cc: ChatCluster, spec: ResolvedSpec, names: ChildNames): NetworkPolicy {
  const np = spec.networkPolicy;
  return policy(cc, names.logicNetworkPolicy, "logic", [
    rule("api", np.serverApi),
    rule("metrics", np.metrics),
  ]);
}
