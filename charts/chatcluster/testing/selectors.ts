import type { KubernetesObject, V1LabelSelector, V1Pod, V1Service } from "@kubernetes/client-node";

/** Whether a Kubernetes label selector selects these labels (matchLabels and matchExpressions). */
export function selects(selector: V1LabelSelector, labels: Record<string, string> = {}): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const inValues = has && (e.values ?? []).includes(labels[e.key] as string);
    const ok =
      e.operator === "In"
        ? inValues
        : e.operator === "NotIn"
          ? !inValues
          : e.operator === "Exists"
            ? has
            : e.operator === "DoesNotExist"
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

/** The fields of a Prometheus Operator ServiceMonitor or PodMonitor that decide its targets. */
export interface Monitor extends KubernetesObject {
  spec: {
    selector: V1LabelSelector;
    namespaceSelector?: { any?: boolean; matchNames?: string[] };
    endpoints?: { port?: string }[];
    podMetricsEndpoints?: { port?: string }[];
  };
}

function watchesNamespace(m: Monitor, namespace: string): boolean {
  const ns = m.spec.namespaceSelector;
  if (ns?.any === true) return true;
  // Without matchNames, the Prometheus Operator looks in the monitor's own namespace.
  const names = ns?.matchNames?.length ? ns.matchNames : [m.metadata?.namespace ?? "default"];
  return names.includes(namespace);
}

/**
 * The pods (namespace/name) a monitor scrapes, as the Prometheus Operator
 * resolves it: a ServiceMonitor through the selected Services that have the
 * endpoint's port, to the pods those Services select; a PodMonitor directly,
 * through the pods with a container port of the endpoint's name.
 */
export function scrapedPods(m: Monitor, services: V1Service[], pods: V1Pod[]): string[] {
  const key = (p: V1Pod) => `${p.metadata?.namespace}/${p.metadata?.name}`;
  if (m.kind === "PodMonitor") {
    const ports = new Set((m.spec.podMetricsEndpoints ?? []).map((e) => e.port));
    return pods
      .filter((p) => watchesNamespace(m, p.metadata?.namespace ?? ""))
      .filter((p) => selects(m.spec.selector, p.metadata?.labels))
      .filter((p) => p.spec?.containers.some((c) => (c.ports ?? []).some((cp) => ports.has(cp.name))))
      .map(key);
  }
  const ports = new Set((m.spec.endpoints ?? []).map((e) => e.port));
  const out: string[] = [];
  for (const s of services) {
    const ns = s.metadata?.namespace ?? "";
    if (!watchesNamespace(m, ns) || !selects(m.spec.selector, s.metadata?.labels)) continue;
    if (!(s.spec?.ports ?? []).some((p) => ports.has(p.name))) continue;
    const podSelector = s.spec?.selector;
    if (podSelector === undefined) continue;
    for (const p of pods) {
      if (p.metadata?.namespace === ns && selects({ matchLabels: podSelector }, p.metadata?.labels))
        out.push(key(p));
    }
  }
  return out;
}
