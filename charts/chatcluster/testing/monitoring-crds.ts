/**
 * The Prometheus Operator's CRDs as far as the chart and the operator need
 * them: the API group served (Helm's capability check, the operator's
 * discovery) and objects stored. Their schemas keep every field, so a test
 * reads back exactly what was applied.
 */
export function monitoringCrds(): string {
  return ["ServiceMonitor", "PodMonitor", "PrometheusRule"]
    .map((kind) => {
      const plural = `${kind.toLowerCase()}s`;
      return [
        "apiVersion: apiextensions.k8s.io/v1",
        "kind: CustomResourceDefinition",
        `metadata: {name: ${plural}.monitoring.coreos.com}`,
        "spec:",
        "  group: monitoring.coreos.com",
        "  scope: Namespaced",
        `  names: {kind: ${kind}, listKind: ${kind}List, plural: ${plural}, singular: ${kind.toLowerCase()}}`,
        "  versions:",
        "    - name: v1",
        "      served: true",
        "      storage: true",
        "      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}",
      ].join("\n");
    })
    .join("\n---\n");
}
