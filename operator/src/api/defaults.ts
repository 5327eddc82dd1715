import type {
  ChatClusterSpec,
  DeletePolicy,
  EnvVar,
  HooksSpec,
  HttpRouteSpec,
  ImageSpec,
  IngressSpec,
  InternalTlsSpec,
  IssuerRef,
  KeyRef,
  NetworkPeer,
  Placement,
  PodTemplatePatch,
  PullPolicy,
  ResourceRequirements,
  ServiceType,
  TierPodSpec,
  UpgradePolicy,
} from "./chatcluster-types.ts";

/**
 * One tier's image fields after falling back to spec.image: repository on its
 * own, tag and digest as one unit (a tier that sets either takes neither from
 * spec.image, so `logic.image.tag` never runs under a digest of spec.image).
 * Fields still unset are resolved against the recorded or default image.
 */
export interface TierImageFields {
  repository?: string;
  tag?: string;
  digest?: string;
  pullPolicy: PullPolicy;
}

/**
 * A spec with every CRD default filled in. The API server already defaults
 * stored objects; resolving again here keeps the builders total (no `?? 8080`
 * scattered through them) and lets tests pass partial specs. Each value must
 * equal the `default:` in crds/chatclusters.chatcluster.io.yaml (a unit test
 * compares them).
 */
/**
 * What a tier's pods carry besides the operator's own settings. Each field is
 * empty unless the spec sets it, so a spec written for an older operator
 * builds the very same pod template (template-stability.test.ts).
 */
export interface TierPod {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  priorityClassName?: string;
  /** spec.placement with the tier's own placement fields over it. */
  placement: Placement;
  env: EnvVar[];
  podTemplate?: PodTemplatePatch;
}

/** The Ingress to create, when enabled. */
export interface ResolvedIngress {
  className?: string;
  host?: string;
  path: string;
  pathType: NonNullable<IngressSpec["pathType"]>;
  annotations: Record<string, string>;
  tlsSecretName?: string;
}

/** The HTTPRoute to create, when enabled. */
export interface ResolvedHttpRoute {
  parentRefs: HttpRouteSpec["parentRefs"];
  hostnames: string[];
  path: string;
  timeouts?: NonNullable<HttpRouteSpec["timeouts"]>;
  annotations: Record<string, string>;
  labels: Record<string, string>;
}

export interface ResolvedSpec {
  images: { gateway: TierImageFields; logic: TierImageFields };
  upgradePolicy: UpgradePolicy;
  /** spec.paused: the operator changes nothing, it only reports status. */
  paused: boolean;
  imagePullSecrets: { name: string }[];
  gateway: {
    replicas: number;
    resources: ResourceRequirements;
    ports: { client: number; internal: number; metrics: number };
    service: {
      type: ServiceType;
      annotations: Record<string, string>;
      externalTrafficPolicy?: "Cluster" | "Local";
      loadBalancerSourceRanges?: string[];
    };
    drainSeconds: number;
    maxConnections: number;
    rollout: { minIntervalSeconds: number; paused: boolean };
    pod: TierPod;
    ingress?: ResolvedIngress;
    httpRoute?: ResolvedHttpRoute;
  };
  logic: {
    replicas: number;
    resources: ResourceRequirements;
    ports: { api: number; metrics: number };
    service: { type: ServiceType; annotations: Record<string, string> };
    pod: TierPod;
    hooks?: Omit<HooksSpec, "secretKeyRef"> & { secretKeyRef?: Required<KeyRef> };
  };
  store:
    | {
        kind: "nats";
        url: string;
        stream: { name: string; replicas: number; maxAge: string; duplicateWindow: string };
      }
    | { kind: "sqlite"; size: string; storageClassName?: string; deletePolicy: DeletePolicy };
  auth: {
    jwt?: Required<KeyRef>;
    jwks?: { secretKeyRef?: Required<KeyRef>; configMapKeyRef?: Required<KeyRef> };
    apiKeys?: Required<KeyRef>;
  };
  serviceMonitor: { enabled: boolean; interval: string; labels: Record<string, string> };
  /** Sources per port group; an empty list admits any source (as a NetworkPolicy rule without from). */
  networkPolicy: {
    enabled: boolean;
    client: NetworkPeer[];
    serverApi: NetworkPeer[];
    metrics: NetworkPeer[];
  };
  internalTls: ResolvedInternalTls;
  placement: Placement;
}

export interface ResolvedInternalTls {
  enabled: boolean;
  /** spec.internalTls.enabled was written (true or false), not defaulted: see internal-tls-step.ts. */
  explicit: boolean;
  issuer: "operator" | "certManager";
  issuerRef?: Required<IssuerRef>;
  certificateLifetimeMs: number;
}

export const DEFAULTS = Object.freeze({
  pullPolicy: "IfNotPresent" as PullPolicy,
  upgradePolicy: "Manual" as UpgradePolicy,
  gatewayReplicas: 2,
  clientPort: 8080,
  internalPort: 9090,
  gatewayMetricsPort: 9102,
  serviceType: "ClusterIP" as ServiceType,
  drainSeconds: 30,
  maxConnections: 10_000,
  /** Quiet time after one gateway pod is replaced or removed before the next: lets reconnects settle. */
  rolloutMinIntervalSeconds: 10,
  logicReplicas: 2,
  apiPort: 8081,
  logicMetricsPort: 9102,
  streamName: "CHATCLUSTER",
  streamReplicas: 1,
  streamMaxAge: "720h",
  duplicateWindow: "2m",
  sqliteSize: "1Gi",
  sqliteDeletePolicy: "Retain" as DeletePolicy,
  jwtKey: "secret",
  jwksKey: "jwks.json",
  apiKeysKey: "api-keys",
  hooksSecretKey: "hooks-secret",
  /** Internal leaf certificates live 90 days and are renewed at 60. */
  certificateLifetime: "2160h",
  serviceMonitorInterval: "30s",
  routePath: "/",
  ingressPathType: "Prefix" as const,
});

function ref(r: KeyRef | undefined, defKey: string): Required<KeyRef> | undefined {
  return r === undefined ? undefined : { name: r.name, key: r.key ?? defKey };
}

function tierImage(tier: ImageSpec | undefined, all: ImageSpec | undefined): TierImageFields {
  const version = tier?.tag !== undefined || tier?.digest !== undefined ? tier : all;
  const out: TierImageFields = { pullPolicy: tier?.pullPolicy ?? all?.pullPolicy ?? DEFAULTS.pullPolicy };
  const repository = tier?.repository ?? all?.repository;
  if (repository !== undefined) out.repository = repository;
  if (version?.tag !== undefined) out.tag = version.tag;
  if (version?.digest !== undefined) out.digest = version.digest;
  return out;
}

/** A tier's own placement fields win over spec.placement's, field by field. */
function tierPod(tier: TierPodSpec, shared: Placement): TierPod {
  const out: TierPod = {
    labels: tier.podLabels ?? {},
    annotations: tier.podAnnotations ?? {},
    placement: { ...shared, ...definedOnly(tier.placement ?? {}) },
    env: tier.env ?? [],
  };
  if (tier.priorityClassName !== undefined) out.priorityClassName = tier.priorityClassName;
  if (tier.podTemplate !== undefined) out.podTemplate = tier.podTemplate;
  return out;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function ingress(i: IngressSpec | undefined): ResolvedIngress | undefined {
  if (i === undefined || i.enabled === false) return undefined;
  const out: ResolvedIngress = {
    path: i.path ?? DEFAULTS.routePath,
    pathType: i.pathType ?? DEFAULTS.ingressPathType,
    annotations: i.annotations ?? {},
  };
  if (i.className !== undefined) out.className = i.className;
  if (i.host !== undefined) out.host = i.host;
  if (i.tls !== undefined) out.tlsSecretName = i.tls.secretName;
  return out;
}

function httpRoute(r: HttpRouteSpec | undefined): ResolvedHttpRoute | undefined {
  if (r === undefined || r.enabled === false) return undefined;
  const out: ResolvedHttpRoute = {
    parentRefs: r.parentRefs,
    hostnames: r.hostnames ?? [],
    path: r.path ?? DEFAULTS.routePath,
    annotations: r.annotations ?? {},
    labels: r.labels ?? {},
  };
  if (r.timeouts !== undefined) out.timeouts = r.timeouts;
  return out;
}

export function resolveSpec(spec: ChatClusterSpec): ResolvedSpec {
  const g = spec.gateway ?? {};
  const l = spec.logic ?? {};
  const nats = spec.store?.nats;
  const sqlite = spec.store?.sqlite;
  const sm = spec.metrics?.serviceMonitor ?? {};
  const jwks = spec.auth?.jwks;
  const placement = spec.placement ?? {};
  return {
    images: { gateway: tierImage(g.image, spec.image), logic: tierImage(l.image, spec.image) },
    upgradePolicy: spec.upgradePolicy ?? DEFAULTS.upgradePolicy,
    paused: spec.paused ?? false,
    imagePullSecrets: spec.imagePullSecrets ?? [],
    gateway: {
      replicas: g.replicas ?? DEFAULTS.gatewayReplicas,
      resources: g.resources ?? {},
      ports: {
        client: g.ports?.client ?? DEFAULTS.clientPort,
        internal: g.ports?.internal ?? DEFAULTS.internalPort,
        metrics: g.ports?.metrics ?? DEFAULTS.gatewayMetricsPort,
      },
      service: {
        type: g.service?.type ?? DEFAULTS.serviceType,
        annotations: g.service?.annotations ?? {},
        ...definedOnly({
          externalTrafficPolicy: g.service?.externalTrafficPolicy,
          loadBalancerSourceRanges: g.service?.loadBalancerSourceRanges,
        }),
      },
      drainSeconds: g.drainSeconds ?? DEFAULTS.drainSeconds,
      maxConnections: g.maxConnections ?? DEFAULTS.maxConnections,
      rollout: {
        minIntervalSeconds: g.rollout?.minIntervalSeconds ?? DEFAULTS.rolloutMinIntervalSeconds,
        paused: g.rollout?.paused ?? false,
      },
      pod: tierPod(g, placement),
      ...definedOnly({ ingress: ingress(g.ingress), httpRoute: httpRoute(g.httpRoute) }),
    },
    logic: {
      replicas: l.replicas ?? DEFAULTS.logicReplicas,
      resources: l.resources ?? {},
      ports: {
        api: l.ports?.api ?? DEFAULTS.apiPort,
        metrics: l.ports?.metrics ?? DEFAULTS.logicMetricsPort,
      },
      service: {
        type: l.service?.type ?? DEFAULTS.serviceType,
        annotations: l.service?.annotations ?? {},
      },
      pod: tierPod(l, placement),
      ...(l.hooks === undefined
        ? {}
        : { hooks: { ...l.hooks, secretKeyRef: ref(l.hooks.secretKeyRef, DEFAULTS.hooksSecretKey) } }),
    },
    // The CRD guarantees exactly one of the two; sqlite wins only when nats is absent.
    store:
      nats !== undefined || sqlite === undefined
        ? {
            kind: "nats",
            url: nats?.url ?? "",
            stream: {
              name: nats?.stream?.name ?? DEFAULTS.streamName,
              replicas: nats?.stream?.replicas ?? DEFAULTS.streamReplicas,
              maxAge: nats?.stream?.maxAge ?? DEFAULTS.streamMaxAge,
              duplicateWindow: nats?.stream?.duplicateWindow ?? DEFAULTS.duplicateWindow,
            },
          }
        : {
            kind: "sqlite",
            size: sqlite.size ?? DEFAULTS.sqliteSize,
            storageClassName: sqlite.storageClassName,
            deletePolicy: sqlite.deletePolicy ?? DEFAULTS.sqliteDeletePolicy,
          },
    auth: {
      jwt: ref(spec.auth?.jwt?.secretKeyRef, DEFAULTS.jwtKey),
      jwks:
        jwks === undefined
          ? undefined
          : {
              secretKeyRef: ref(jwks.secretKeyRef, DEFAULTS.jwksKey),
              configMapKeyRef: ref(jwks.configMapKeyRef, DEFAULTS.jwksKey),
            },
      apiKeys: ref(spec.auth?.apiKeys?.secretKeyRef, DEFAULTS.apiKeysKey),
    },
    serviceMonitor: {
      enabled: sm.enabled ?? false,
      interval: sm.interval ?? DEFAULTS.serviceMonitorInterval,
      labels: sm.labels ?? {},
    },
    networkPolicy: {
      enabled: spec.networkPolicy?.enabled ?? true,
      client: spec.networkPolicy?.client?.from ?? [],
      serverApi: spec.networkPolicy?.serverApi?.from ?? [],
      metrics: spec.networkPolicy?.metrics?.from ?? [],
    },
    internalTls: resolveInternalTls(spec.internalTls ?? {}),
    placement,
  };
}

function resolveInternalTls(t: InternalTlsSpec): ResolvedInternalTls {
  const ref = t.certManager?.issuerRef;
  return {
    enabled: t.enabled ?? true,
    explicit: t.enabled !== undefined,
    issuer: t.issuer ?? "operator",
    ...(ref !== undefined
      ? { issuerRef: { name: ref.name, kind: ref.kind ?? "Issuer", group: ref.group ?? "cert-manager.io" } }
      : {}),
    certificateLifetimeMs: durationMs(t.certificateLifetime ?? DEFAULTS.certificateLifetime),
  };
}

/** A CRD-validated duration (one or more number-unit pairs: 2160h, 1h30m) in milliseconds. */
export function durationMs(d: string): number {
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  let ms = 0;
  for (const m of d.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g))
    ms += Number(m[1]) * unit[m[2] as keyof typeof unit];
  return Math.round(ms);
}
