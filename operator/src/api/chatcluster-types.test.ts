import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CRD_PATH, readYamlPlain } from "../testing/fixtures.ts";
import type { ChatClusterSpec, ChatClusterStatus, Placement, TierPodSpec } from "./chatcluster-types.ts";

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: unknown;
  items?: Schema;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
}

/** Every field set, so the compiler checks it against the TypeScript type. */
const IMAGE = { repository: "r", tag: "t", digest: "sha256:0", pullPolicy: "Always" } as const;
const PLACEMENT = {
  nodeSelector: { a: "b" },
  tolerations: [{ key: "k", operator: "Equal", value: "v", effect: "NoExecute", tolerationSeconds: 1 }],
  affinity: {},
  topologySpreadConstraints: [
    {
      maxSkew: 1,
      topologyKey: "k",
      whenUnsatisfiable: "DoNotSchedule",
      labelSelector: {},
      matchLabelKeys: ["k"],
      minDomains: 1,
      nodeAffinityPolicy: "Honor",
      nodeTaintsPolicy: "Ignore",
    },
  ],
} as const satisfies Placement;
const TIER_POD = {
  podLabels: { a: "b" },
  podAnnotations: { a: "b" },
  priorityClassName: "high",
  placement: PLACEMENT,
  env: [{ name: "A", value: "1", valueFrom: {} }],
  podTemplate: {
    metadata: { labels: { a: "b" }, annotations: { a: "b" } },
    spec: { containers: [{ name: "c", image: "i", command: ["c"], args: ["a"] }] },
  },
} satisfies TierPodSpec;
const FULL_SPEC: Required<ChatClusterSpec> = {
  image: IMAGE,
  upgradePolicy: "Manual",
  paused: false,
  imagePullSecrets: [{ name: "regcred" }],
  gateway: {
    ...TIER_POD,
    image: IMAGE,
    replicas: 1,
    resources: { limits: { cpu: "1" }, requests: { memory: "1Gi" } },
    ports: { client: 1, internal: 2, metrics: 3 },
    service: {
      type: "LoadBalancer",
      annotations: { a: "b" },
      externalTrafficPolicy: "Local",
      loadBalancerSourceRanges: ["10.0.0.0/8"],
    },
    drainSeconds: 1,
    maxConnections: 1,
    rollout: { minIntervalSeconds: 1, paused: true },
    ingress: {
      enabled: true,
      className: "nginx",
      host: "h",
      path: "/",
      pathType: "Prefix",
      annotations: { a: "b" },
      tls: { secretName: "s" },
    },
    httpRoute: {
      enabled: true,
      parentRefs: [{ group: "g", kind: "Gateway", namespace: "n", name: "gw", sectionName: "s", port: 443 }],
      hostnames: ["h"],
      path: "/",
      timeouts: { request: "0s", backendRequest: "0s" },
      annotations: { a: "b" },
      labels: { a: "b" },
    },
  },
  logic: {
    ...TIER_POD,
    service: { type: "ClusterIP", annotations: { a: "b" } },
    image: IMAGE,
    replicas: 1,
    resources: { limits: {}, requests: {} },
    ports: { api: 1, metrics: 2 },
    hooks: {
      url: "http://h:1",
      protocol: "grpc",
      secretKeyRef: { name: "n", key: "k" },
      connect: { mode: "after", timeout: "1s", concurrency: 1, onFailure: "refuse" },
      join: { rooms: ["a"], timeout: "1s", concurrency: 1, onFailure: "allow" },
      send: { rooms: ["a"], timeout: "1s", concurrency: 1, onFailure: "allow" },
      rpc: { methods: ["a"], timeout: "1s", concurrency: 1, onFailure: "allow" },
    },
  },
  store: {
    nats: { url: "nats://n:4222", stream: { name: "S", replicas: 1, maxAge: "1h", duplicateWindow: "1m" } },
    sqlite: { size: "1Gi", storageClassName: "c", deletePolicy: "Retain" },
  },
  auth: {
    jwt: { secretKeyRef: { name: "n", key: "k" } },
    jwks: { secretKeyRef: { name: "n", key: "k" }, configMapKeyRef: { name: "n", key: "k" } },
    apiKeys: { secretKeyRef: { name: "n", key: "k" } },
  },
  metrics: { serviceMonitor: { enabled: true, interval: "30s", labels: { a: "b" } } },
  internalTls: {
    enabled: true,
    issuer: "certManager",
    certManager: { issuerRef: { name: "ca", kind: "ClusterIssuer", group: "cert-manager.io" } },
    certificateLifetime: "2160h",
  },
  networkPolicy: {
    enabled: true,
    client: {
      from: [
        { podSelector: {}, namespaceSelector: {}, ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } },
      ],
    },
    serverApi: {
      from: [{ podSelector: {}, namespaceSelector: {}, ipBlock: { cidr: "10.0.0.0/8", except: [] } }],
    },
    metrics: { from: [] },
  },
  placement: PLACEMENT,
};

const FULL_STATUS: Required<ChatClusterStatus> = {
  observedGeneration: 1,
  store: "nats",
  conditions: [
    {
      type: "Ready",
      status: "True",
      reason: "r",
      message: "m",
      lastTransitionTime: "t",
      observedGeneration: 1,
    },
  ],
  gateway: {
    replicas: 1,
    readyReplicas: 1,
    updatedReplicas: 1,
    ready: "1/1",
    selector: "s",
    image: "i",
    draining: { pod: "p", uid: "u", since: "t", reason: "Replace" },
    lastDrainedTime: "t",
  },
  logic: { replicas: 1, readyReplicas: 1, updatedReplicas: 1, ready: "1/1", image: "i" },
  internalToken: { generation: 1, phase: "Rotating", lastRotationRequest: "r", message: "m" },
};

/** Object paths in the value that the schema does not declare, and declared paths the value lacks. */
function compare(
  value: unknown,
  schema: Schema,
  path: string,
  out: { extra: string[]; missing: string[] },
): void {
  if (schema["x-kubernetes-preserve-unknown-fields"] || schema.additionalProperties !== undefined) return;
  if (Array.isArray(value)) {
    if (schema.items) for (const v of value) compare(v, schema.items, `${path}[]`, out);
    return;
  }
  if (value === null || typeof value !== "object" || schema.properties === undefined) return;
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const sub = schema.properties[key];
    if (sub === undefined) out.extra.push(`${path}.${key}`);
    else compare(obj[key], sub, `${path}.${key}`, out);
  }
  for (const key of Object.keys(schema.properties)) if (!(key in obj)) out.missing.push(`${path}.${key}`);
}

describe("ChatCluster TypeScript types", () => {
  const crd = readYamlPlain<{ spec: { versions: { schema: { openAPIV3Schema: Schema } }[] } }>(CRD_PATH);
  const root = crd.spec.versions[0]!.schema.openAPIV3Schema;

  it("declare exactly the fields of the CRD's spec schema", () => {
    const out = { extra: [] as string[], missing: [] as string[] };
    compare(FULL_SPEC, root.properties!.spec!, "spec", out);
    assert.deepEqual(out, { extra: [], missing: [] });
  });

  it("declare exactly the fields of the CRD's status schema", () => {
    const out = { extra: [] as string[], missing: [] as string[] };
    compare(FULL_STATUS, root.properties!.status!, "status", out);
    assert.deepEqual(out, { extra: [], missing: [] });
  });
});
