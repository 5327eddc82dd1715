import type { ChatClusterSpec } from "../api/chatcluster-types.ts";

/**
 * Specs that use only fields an earlier operator knew, each exercising a
 * different part of the pod templates. template-stability.test.ts checks that
 * the current builders give them the very templates recorded from that
 * operator (pod-templates-0.1.json): a new operator must roll no pod of an
 * unchanged ChatCluster, so every field added since changes a template only
 * when it is set.
 */
export const TEMPLATE_STABILITY_SPECS: Record<string, Partial<ChatClusterSpec>> = {
  minimal: {},
  sqlite: { store: { sqlite: { size: "5Gi", storageClassName: "fast" } }, logic: { replicas: 1 } },
  jwksSecret: {
    auth: {
      jwks: { secretKeyRef: { name: "keys" } },
      apiKeys: { secretKeyRef: { name: "api", key: "keys" } },
    },
  },
  jwksConfigMap: { auth: { jwks: { configMapKeyRef: { name: "keys", key: "set.json" } } } },
  everything: {
    image: { repository: "registry.example.com/chat", tag: "1.2.3", pullPolicy: "Always" },
    gateway: {
      image: { digest: `sha256:${"a".repeat(64)}` },
      replicas: 5,
      resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { memory: "2Gi" } },
      ports: { client: 8443, internal: 9443, metrics: 9200 },
      service: { type: "LoadBalancer", annotations: { "example.com/lb": "internal" } },
      drainSeconds: 90,
      maxConnections: 50_000,
      rollout: { minIntervalSeconds: 30, paused: true },
    },
    logic: {
      image: { tag: "1.2.4" },
      replicas: 4,
      resources: { requests: { cpu: "500m" } },
      ports: { api: 7000, metrics: 7001 },
    },
    store: {
      nats: {
        url: "nats://a:4222,nats://b:4222",
        stream: { name: "CHAT", replicas: 3, maxAge: "24h", duplicateWindow: "5m" },
      },
    },
    auth: {
      jwt: { secretKeyRef: { name: "jwt", key: "hs" } },
      apiKeys: { secretKeyRef: { name: "api" } },
    },
    metrics: { serviceMonitor: { enabled: true, interval: "15s", labels: { release: "prom" } } },
    placement: {
      nodeSelector: { pool: "chat" },
      tolerations: [{ key: "dedicated", operator: "Equal", value: "chat", effect: "NoSchedule" }],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: "arch", operator: "In", values: ["amd64"] }] }],
          },
        },
      },
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway" },
        {
          maxSkew: 2,
          topologyKey: "kubernetes.io/hostname",
          whenUnsatisfiable: "DoNotSchedule",
          labelSelector: { matchLabels: { custom: "yes" } },
        },
      ],
    },
  },
};
