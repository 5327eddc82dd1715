import type { ChatClusterSpec } from "../api/chatcluster-types.ts";

/**
 * Specs the CRD must accept and refuse (crd-validation.integration.test.ts).
 * Each refusal names the field, as the API server reports it, and part of the
 * message.
 */

const BASE: ChatClusterSpec = {
  store: { nats: { url: "nats://nats:4222" } },
  auth: { jwt: { secretKeyRef: { name: "chat-auth" } } },
};

/** Every field set to a valid value. */
export const GOOD_SPEC: ChatClusterSpec = {
  image: { repository: "registry.example.com:5000/team/chat", tag: "1.2.3", pullPolicy: "IfNotPresent" },
  upgradePolicy: "Manual",
  paused: false,
  imagePullSecrets: [{ name: "regcred" }],
  gateway: {
    podLabels: { "example.com/team": "edge" },
    podAnnotations: { "vault.hashicorp.com/agent-inject": "true" },
    priorityClassName: "chat-gateway",
    placement: { tolerations: [{ key: "edge", operator: "Exists", effect: "NoSchedule" }] },
    env: [
      { name: "CHATCLUSTER_LOG_LEVEL", value: "debug" },
      { name: "NODE_IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
    ],
    podTemplate: {
      metadata: { annotations: { "sidecar.istio.io/inject": "false" } },
      spec: {
        containers: [
          { name: "gateway", env: [{ name: "NODE_OPTIONS", value: "--max-old-space-size=1536" }] },
          { name: "shipper", image: "fluent/fluent-bit:3.0", args: ["-c", "/etc/fb.conf"] },
        ],
        dnsPolicy: "ClusterFirst",
      },
    },
    ingress: {
      className: "nginx",
      host: "chat.example.com",
      annotations: { "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600" },
      tls: { secretName: "chat-tls" },
    },
    httpRoute: {
      parentRefs: [{ name: "public", namespace: "gateways", sectionName: "https" }],
      hostnames: ["*.chat.example.com"],
      timeouts: { request: "0s" },
    },
    image: { repository: "ghcr.io/chatcluster/chatcluster", digest: `sha256:${"0".repeat(64)}` },
    replicas: 3,
    resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } },
    ports: { client: 8080, internal: 9090, metrics: 9102 },
    service: {
      type: "LoadBalancer",
      annotations: { "service.beta.kubernetes.io/aws-load-balancer-type": "nlb" },
    },
    drainSeconds: 30,
    maxConnections: 10_000,
    rollout: { minIntervalSeconds: 10, paused: false },
  },
  logic: {
    podLabels: { "example.com/team": "backend" },
    env: [{ name: "CHATCLUSTER_MAX_BODY_BYTES", value: "65536" }],
    service: { type: "ClusterIP", annotations: { "example.com/x": "y" } },
    image: { tag: "1.2.4" },
    replicas: 2,
    resources: { requests: { cpu: "250m" } },
    ports: { api: 8081, metrics: 9102 },
  },
  store: { nats: { url: "nats://a:4222,nats://b:4222", stream: { name: "CHAT", replicas: 3 } } },
  auth: {
    jwt: { secretKeyRef: { name: "chat-auth", key: "secret" } },
    apiKeys: { secretKeyRef: { name: "chat-auth.v2", key: "api-keys" } },
  },
  metrics: { serviceMonitor: { enabled: true, interval: "15s", labels: { release: "kube-prometheus" } } },
  placement: {
    nodeSelector: { "node.kubernetes.io/pool": "chat" },
    tolerations: [
      { key: "dedicated", operator: "Equal", value: "chat", effect: "NoSchedule" },
      {
        key: "node.kubernetes.io/unreachable",
        operator: "Exists",
        effect: "NoExecute",
        tolerationSeconds: 30,
      },
      { operator: "Exists" },
    ],
    affinity: { podAntiAffinity: {} },
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "DoNotSchedule",
        minDomains: 2,
      },
    ],
  },
};

export interface BadSpec {
  what: string;
  spec: ChatClusterSpec;
  /** The field path the API server names. */
  field: string;
  message: RegExp;
}

const toleration = (t: Record<string, unknown>): ChatClusterSpec => ({
  ...BASE,
  placement: { tolerations: [t] },
});

export const BAD_SPECS: BadSpec[] = [
  {
    what: "a toleration with an unknown operator",
    spec: toleration({ key: "k", operator: "Bogus" }),
    field: "spec.placement.tolerations[0].operator",
    message: /Unsupported value: "Bogus"/,
  },
  {
    what: "a toleration with operator Exists and a value",
    spec: toleration({ key: "k", operator: "Exists", value: "v" }),
    field: "spec.placement.tolerations[0]",
    message: /operator Exists matches any value: leave value empty/,
  },
  {
    what: "a toleration without a key and operator Equal",
    spec: toleration({ operator: "Equal", value: "v" }),
    field: "spec.placement.tolerations[0]",
    message: /without a key must have operator Exists/,
  },
  {
    what: "tolerationSeconds with an effect other than NoExecute",
    spec: toleration({ key: "k", effect: "NoSchedule", tolerationSeconds: 5 }),
    field: "spec.placement.tolerations[0]",
    message: /tolerationSeconds applies only to effect NoExecute/,
  },
  {
    what: "a toleration with an unknown effect",
    spec: toleration({ key: "k", effect: "NoWay" }),
    field: "spec.placement.tolerations[0].effect",
    message: /Unsupported value: "NoWay"/,
  },
  {
    what: "an invalid label key",
    spec: { ...BASE, metrics: { serviceMonitor: { labels: { "bad key!": "x" } } } },
    field: "spec.metrics.serviceMonitor.labels",
    message: /key bad key! is not a valid label key/,
  },
  {
    what: "an invalid label value",
    spec: { ...BASE, placement: { nodeSelector: { pool: "-chat-" } } },
    field: "spec.placement.nodeSelector",
    message: /the value of pool is not a valid label value/,
  },
  {
    what: "a label value longer than 63 characters",
    spec: { ...BASE, placement: { nodeSelector: { pool: "x".repeat(64) } } },
    field: "spec.placement.nodeSelector.pool",
    message: /may not be (longer than|more than) 63/,
  },
  {
    what: "an invalid annotation key",
    spec: { ...BASE, gateway: { service: { annotations: { "/nope": "x" } } } },
    field: "spec.gateway.service.annotations",
    message: /key \/nope is not a valid annotation key/,
  },
  {
    what: "an invalid Secret name",
    spec: { ...BASE, auth: { jwt: { secretKeyRef: { name: "Chat_Auth" } } } },
    field: "spec.auth.jwt.secretKeyRef.name",
    message: /must be a valid object name/,
  },
  {
    what: "an invalid Secret key",
    spec: { ...BASE, auth: { jwt: { secretKeyRef: { name: "chat-auth", key: "a/b" } } } },
    field: "spec.auth.jwt.secretKeyRef.key",
    message: /must be a valid key/,
  },
  {
    what: "an invalid ConfigMap name",
    spec: { ...BASE, auth: { jwks: { configMapKeyRef: { name: "keys!" } } } },
    field: "spec.auth.jwks.configMapKeyRef.name",
    message: /must be a valid object name/,
  },
  {
    what: "an image repository with a tag in it",
    spec: { ...BASE, image: { repository: "nginx:1.25" } },
    field: "spec.image.repository",
    message: /must be an image repository such as ghcr\.io\/chatcluster\/chatcluster/,
  },
  {
    what: "an image repository in upper case",
    spec: { ...BASE, logic: { image: { repository: "ghcr.io/Team/Chat" } } },
    field: "spec.logic.image.repository",
    message: /must be an image repository/,
  },
  {
    what: "an image tag with a space",
    spec: { ...BASE, gateway: { image: { tag: "1.0 beta" } } },
    field: "spec.gateway.image.tag",
    message: /must be an image tag/,
  },
  {
    what: "an image digest that is not one",
    spec: { ...BASE, image: { digest: "sha256:abc" } },
    field: "spec.image.digest",
    message: /must be an image digest: sha256: followed by 64 lower-case hex digits/,
  },
  {
    what: "a topology spread constraint with an invalid topology key",
    spec: {
      ...BASE,
      placement: {
        topologySpreadConstraints: [
          { maxSkew: 1, topologyKey: "zone name", whenUnsatisfiable: "ScheduleAnyway" },
        ],
      },
    },
    field: "spec.placement.topologySpreadConstraints[0].topologyKey",
    message: /must be a valid label key/,
  },
  {
    what: "an invalid storage class name",
    spec: { ...BASE, store: { sqlite: { storageClassName: "Fast SSD" } }, logic: { replicas: 1 } },
    field: "spec.store.sqlite.storageClassName",
    message: /must be a valid object name/,
  },

  {
    what: "a pod label that would change the tier's selector",
    spec: { ...BASE, gateway: { podLabels: { "app.kubernetes.io/component": "mine" } } },
    field: "spec.gateway.podLabels",
    message: /select the tier's pods and are set by the operator/,
  },
  {
    what: "a pod annotation under chatcluster.io/",
    spec: { ...BASE, logic: { podAnnotations: { "chatcluster.io/config-hash": "x" } } },
    field: "spec.logic.podAnnotations",
    message: /keys under chatcluster\.io\/ are set by the operator/,
  },
  {
    what: "an invalid priority class name",
    spec: { ...BASE, gateway: { priorityClassName: "High Priority" } },
    field: "spec.gateway.priorityClassName",
    message: /must be a valid object name/,
  },
  {
    what: "an invalid image pull secret name",
    spec: { ...BASE, imagePullSecrets: [{ name: "reg_cred" }] },
    field: "spec.imagePullSecrets[0].name",
    message: /must be a valid object name/,
  },
  {
    what: "an env variable the operator sets",
    spec: { ...BASE, gateway: { env: [{ name: "CHATCLUSTER_INTERNAL_LISTEN", value: "0.0.0.0:1" }] } },
    field: "spec.gateway.env[0]",
    message: /CHATCLUSTER_INTERNAL_LISTEN is set by the operator for the gateway container/,
  },
  {
    what: "an env variable with both value and valueFrom",
    spec: {
      ...BASE,
      logic: { env: [{ name: "X", value: "1", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }] },
    },
    field: "spec.logic.env[0]",
    message: /set value or valueFrom, not both/,
  },
  {
    what: "the same env variable twice",
    spec: {
      ...BASE,
      logic: {
        env: [
          { name: "X", value: "1" },
          { name: "X", value: "2" },
        ],
      },
    },
    field: "spec.logic.env[1]",
    message: /Duplicate value/,
  },
  {
    what: "a podTemplate that sets the tier container's image",
    spec: {
      ...BASE,
      gateway: { podTemplate: { spec: { containers: [{ name: "gateway", image: "evil:1" }] } } },
    },
    field: "spec.gateway.podTemplate.spec.containers",
    message: /the gateway container's image, command and args come from the image fields and the operator/,
  },
  {
    what: "a podTemplate label that would change the selector",
    spec: {
      ...BASE,
      logic: { podTemplate: { metadata: { labels: { "app.kubernetes.io/instance": "x" } } } },
    },
    field: "spec.logic.podTemplate.metadata.labels",
    message: /select the tier's pods and are set by the operator/,
  },
  {
    what: "externalTrafficPolicy on a ClusterIP Service",
    spec: { ...BASE, gateway: { service: { externalTrafficPolicy: "Local" } } },
    field: "spec.gateway.service.externalTrafficPolicy",
    message: /applies only to type NodePort or LoadBalancer/,
  },
  {
    what: "loadBalancerSourceRanges that are not CIDRs",
    spec: {
      ...BASE,
      gateway: { service: { type: "LoadBalancer", loadBalancerSourceRanges: ["10.0.0.300/8"] } },
    },
    field: "spec.gateway.service.loadBalancerSourceRanges[0]",
    message: /must be an IPv4 or IPv6 CIDR/,
  },
  {
    what: "an Ingress with TLS and no host",
    spec: { ...BASE, gateway: { ingress: { tls: { secretName: "chat-tls" } } } },
    field: "spec.gateway.ingress",
    message: /ingress\.tls needs ingress\.host/,
  },
  {
    what: "an Ingress host that is not a DNS name",
    spec: { ...BASE, gateway: { ingress: { host: "Chat.Example.com" } } },
    field: "spec.gateway.ingress.host",
    message: /must be a lower-case DNS name/,
  },
  {
    what: "an HTTPRoute without parentRefs",
    spec: { ...BASE, gateway: { httpRoute: { hostnames: ["chat.example.com"] } as never } },
    field: "spec.gateway.httpRoute.parentRefs",
    message: /Required value/,
  },
];
