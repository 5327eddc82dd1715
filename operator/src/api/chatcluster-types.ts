/**
 * The ChatCluster custom resource (chatcluster.io/v1alpha1), mirroring
 * crds/chatclusters.chatcluster.io.yaml. Fields the CRD defaults are optional
 * here because a spec may come from a file (tests, docs) before the API server
 * defaulted it; `resolveSpec` (defaults.ts) fills them the same way the CRD does.
 */

export const GROUP = "chatcluster.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "ChatCluster";
export const PLURAL = "chatclusters";

export type PullPolicy = "Always" | "IfNotPresent" | "Never";
export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer";

export interface ResourceRequirements {
  limits?: Record<string, string | number>;
  requests?: Record<string, string | number>;
}

export interface KeyRef {
  name: string;
  key?: string;
}

/** Kubernetes Pod fields passed through unchanged (their schemas are preserve-unknown-fields). */
export type PassThrough = Record<string, unknown>;

/**
 * A container image. Per tier (`spec.gateway.image`, `spec.logic.image`) it
 * overrides `spec.image`; a digest wins over a tag.
 */
export interface ImageSpec {
  repository?: string;
  tag?: string;
  digest?: string;
  pullPolicy?: PullPolicy;
}

/** A Pod toleration (the CRD validates its combinations). */
export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: "" | "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  tolerationSeconds?: number;
}

/** A Pod topology spread constraint; without labelSelector the operator selects the tier's own pods. */
export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway";
  labelSelector?: PassThrough;
  matchLabelKeys?: string[];
  minDomains?: number;
  nodeAffinityPolicy?: "Honor" | "Ignore";
  nodeTaintsPolicy?: "Honor" | "Ignore";
}

/** Where a tier's pods may run. */
export interface Placement {
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  affinity?: PassThrough;
  topologySpreadConstraints?: TopologySpreadConstraint[];
}

/** Manual: the recorded image holds until the spec changes it. FollowOperator: take each new operator default. */
export type UpgradePolicy = "Manual" | "FollowOperator";

/** Whether the SQLite volume claim outlives its ChatCluster. */
export type DeletePolicy = "Retain" | "Delete";
/** One hook's bounds (durations as `500ms`, `2s`); absent fields keep logic's defaults. */
export interface HookLimitsSpec {
  timeout?: string;
  concurrency?: number;
  onFailure?: "refuse" | "allow";
}

/** `spec.logic.hooks`: calls to the team's chatcluster.v1.ChatHooks service (docs/hooks.md). */
export interface HooksSpec {
  url: string;
  protocol?: "connect" | "grpc";
  secretKeyRef?: KeyRef;
  connect?: HookLimitsSpec & { mode?: "off" | "after" | "instead" };
  join?: HookLimitsSpec & { rooms?: string[] };
  send?: HookLimitsSpec & { rooms?: string[] };
  rpc?: HookLimitsSpec & { methods?: string[] };
}

/** An environment variable, as in a Pod (valueFrom passes through). */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: PassThrough;
}

/** A strategic-merge patch over a tier's pod template (desired/strategic-merge.ts). */
export interface PodTemplatePatch {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: PassThrough & {
    containers?: (PassThrough & { name: string; image?: string; command?: string[]; args?: string[] })[];
  };
}

/** What each tier's pods carry besides the operator's own settings. */
export interface TierPodSpec {
  podLabels?: Record<string, string>;
  podAnnotations?: Record<string, string>;
  priorityClassName?: string;
  placement?: Placement;
  env?: EnvVar[];
  podTemplate?: PodTemplatePatch;
}

/** An Ingress to the gateways' client port. */
export interface IngressSpec {
  enabled?: boolean;
  className?: string;
  host?: string;
  path?: string;
  pathType?: "Prefix" | "Exact" | "ImplementationSpecific";
  annotations?: Record<string, string>;
  tls?: { secretName: string };
}

/** A Gateway API parent reference. */
export interface ParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

/** A Gateway API HTTPRoute to the gateways' client port. */
export interface HttpRouteSpec {
  enabled?: boolean;
  parentRefs: ParentRef[];
  hostnames?: string[];
  path?: string;
  timeouts?: { request?: string; backendRequest?: string };
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

/** A NetworkPolicy peer: pods in namespaces, or an address range. */
export interface NetworkPeer {
  podSelector?: PassThrough;
  namespaceSelector?: PassThrough;
  ipBlock?: { cidr: string; except?: string[] };
}

/** The NetworkPolicies of a ChatCluster; `from` unset or empty admits any source. */
export interface NetworkPolicySpec {
  enabled?: boolean;
  client?: { from?: NetworkPeer[] };
  serverApi?: { from?: NetworkPeer[] };
  metrics?: { from?: NetworkPeer[] };
}

/** A cert-manager issuer (cert-manager.io/v1 Certificate spec.issuerRef). */
export interface IssuerRef {
  name: string;
  kind?: "Issuer" | "ClusterIssuer";
  group?: string;
}

/** The internal link's certificates: who issues them, and whether the link uses TLS at all. */
export interface InternalTlsSpec {
  enabled?: boolean;
  issuer?: "operator" | "certManager";
  certManager?: { issuerRef: IssuerRef };
  /** Leaf lifetime with issuer operator, as a duration such as 2160h. */
  certificateLifetime?: string;
}

export interface ChatClusterSpec {
  image?: ImageSpec;
  upgradePolicy?: UpgradePolicy;
  paused?: boolean;
  imagePullSecrets?: { name: string }[];
  gateway?: TierPodSpec & {
    image?: ImageSpec;
    replicas?: number;
    resources?: ResourceRequirements;
    ports?: { client?: number; internal?: number; metrics?: number };
    service?: {
      type?: ServiceType;
      annotations?: Record<string, string>;
      externalTrafficPolicy?: "Cluster" | "Local";
      loadBalancerSourceRanges?: string[];
    };
    drainSeconds?: number;
    maxConnections?: number;
    rollout?: { minIntervalSeconds?: number; paused?: boolean };
    ingress?: IngressSpec;
    httpRoute?: HttpRouteSpec;
  };
  logic?: TierPodSpec & {
    image?: ImageSpec;
    replicas?: number;
    resources?: ResourceRequirements;
    ports?: { api?: number; metrics?: number };
    service?: { type?: ServiceType; annotations?: Record<string, string> };
    hooks?: HooksSpec;
  };
  store: {
    nats?: {
      url: string;
      stream?: { name?: string; replicas?: number; maxAge?: string; duplicateWindow?: string };
    };
    sqlite?: { size?: string; storageClassName?: string; deletePolicy?: DeletePolicy };
  };
  auth?: {
    jwt?: { secretKeyRef: KeyRef };
    jwks?: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef };
    apiKeys?: { secretKeyRef: KeyRef };
  };
  metrics?: { serviceMonitor?: { enabled?: boolean; interval?: string; labels?: Record<string, string> } };
  networkPolicy?: NetworkPolicySpec;
  internalTls?: InternalTlsSpec;
  placement?: Placement;
}

/**
 * Ready, Progressing and Degraded always; MonitoringReady while a ServiceMonitor
 * is asked for and HTTPRouteReady while an HTTPRoute is (neither affects Ready);
 * StoreDegraded once the replica health of a NATS store was checked.
 */
export type ConditionType =
  | "Ready"
  | "Progressing"
  | "Degraded"
  | "MonitoringReady"
  | "HTTPRouteReady"
  | "InternalTLSReady"
  | "StoreDegraded";
export type ConditionStatus = "True" | "False" | "Unknown";

export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface TierStatus {
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
  /** Ready and desired pods as `ready/desired`, for the printer columns. */
  ready?: string;
  /**
   * The image this tier runs, resolved once from the spec and the operator's
   * default: an operator with another default keeps it (upgradePolicy Manual).
   */
  image?: string;
}

/** The gateway pod the operator is draining (deleted, or removed by lowering replicas). */
export interface DrainingPod {
  pod: string;
  uid: string;
  since: string;
  /** Replace: deleted for a new template (the StatefulSet recreates it). ScaleDown: removed for good. */
  reason: "Replace" | "ScaleDown";
}

export interface GatewayStatus extends TierStatus {
  selector: string;
  /** Set from the moment the operator removes a gateway pod until it has observed the pod gone. */
  draining?: DrainingPod;
  /** When the operator last observed a drained gateway pod gone (the minimum interval counts from here). */
  lastDrainedTime?: string;
}

/** The internal token as the operator left it (the token itself is only in its Secret). */
export interface InternalTokenStatus {
  /** How many times it was replaced; both pod templates carry it from the first time on. */
  generation: number;
  /** Rotating: pods of both generations run, and gateways accept both tokens. Lost: see message. */
  phase: "Current" | "Rotating" | "Lost";
  /** The last chatcluster.io/rotate-internal-token value answered. */
  lastRotationRequest?: string;
  message?: string;
}

export interface ChatClusterStatus {
  observedGeneration?: number;
  store?: "nats" | "sqlite";
  conditions?: Condition[];
  gateway?: GatewayStatus;
  logic?: TierStatus;
  internalToken?: InternalTokenStatus;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  creationTimestamp?: string;
}

export interface ChatCluster {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: ChatClusterSpec;
  status?: ChatClusterStatus;
}
