import type { V1PodDisruptionBudget, V1Service, V1StatefulSet } from "@kubernetes/client-node";
import type { ChatCluster } from "../api/chatcluster-types.ts";
import type { ResolvedSpec } from "../api/defaults.ts";
import { tierTls } from "./internal-trust.ts";
import {
  type ChildNames,
  CONFIG_HASH_ANNOTATION,
  childMeta,
  METRICS_LABEL,
  selectorLabels,
} from "./names.ts";
import {
  CONTAINER_SECURITY_CONTEXT,
  fieldEnv,
  internalTokenEnv,
  OPS_PROBES,
  POD_SECURITY_CONTEXT,
  placement,
  resources,
  type SecretRolls,
  secretRollAnnotations,
} from "./pod-common.ts";
import { withTierPod } from "./tier-pod.ts";
import { gatewayShutdownGraceSeconds } from "./workload-config.ts";

/**
 * Seconds the preStop hook sleeps before SIGTERM, so load balancers and
 * kube-proxy drop the terminating pod from the client Service before it starts
 * telling clients to reconnect.
 */
export const PRE_STOP_SLEEP_SECONDS = 5;
/** Slack after the gateway's own shutdown deadline before the kubelet's SIGKILL. */
export const TERMINATION_MARGIN_SECONDS = 5;

/** preStop sleep + the gateway's shutdown grace (drain window + 10s) + margin. */
export function gatewayTerminationGraceSeconds(spec: ResolvedSpec): number {
  return PRE_STOP_SLEEP_SECONDS + gatewayShutdownGraceSeconds(spec) + TERMINATION_MARGIN_SECONDS;
}

/**
 * Headless Service over the gateways' internal gRPC port. Logic pods discover
 * gateways from its EndpointSlices (label kubernetes.io/service-name=<this name>)
 * and stream to every pod listed, ready or not (see below).
 */
export function gatewayHeadlessService(cc: ChatCluster, spec: ResolvedSpec, names: ChildNames): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: childMeta(cc, names.gatewayHeadlessService, "gateway", { [METRICS_LABEL]: "true" }),
    spec: {
      clusterIP: "None",
      // Logic must stream to every gateway pod that exists, ready or not: a gateway
      // turns ready only once a logic stream is connected, and a draining gateway
      // (not ready) still delivers to the clients it has until it exits.
      publishNotReadyAddresses: true,
      selector: selectorLabels(cc.metadata.name, "gateway"),
      ports: [
        {
          name: "internal",
          port: spec.gateway.ports.internal,
          targetPort: "internal",
          protocol: "TCP",
          appProtocol: "kubernetes.io/h2c",
        },
        { name: "metrics", port: spec.gateway.ports.metrics, targetPort: "metrics", protocol: "TCP" },
      ],
    },
  };
}

/** The Service clients connect to (WebSocket), with the user's type and annotations. */
export function gatewayClientService(cc: ChatCluster, spec: ResolvedSpec, names: ChildNames): V1Service {
  const meta = childMeta(cc, names.gatewayClientService, "gateway");
  const svc = spec.gateway.service;
  const annotations = svc.annotations;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: Object.keys(annotations).length > 0 ? { ...meta, annotations } : meta,
    spec: {
      type: svc.type,
      selector: selectorLabels(cc.metadata.name, "gateway"),
      ports: [{ name: "client", port: spec.gateway.ports.client, targetPort: "client", protocol: "TCP" }],
      ...(svc.externalTrafficPolicy !== undefined
        ? { externalTrafficPolicy: svc.externalTrafficPolicy }
        : {}),
      ...(svc.loadBalancerSourceRanges !== undefined
        ? { loadBalancerSourceRanges: svc.loadBalancerSourceRanges }
        : {}),
    },
  };
}

export interface GatewayWorkload {
  image: string;
  configHash: string;
  /** The operator steps scale-down one pod at a time, so this may lag spec.gateway.replicas. */
  replicas: number;
  rolls: SecretRolls;
  /** TLS both ways on the internal port (internal-trust.ts); off, the shared secret alone. */
  internalTls: boolean;
}

export function gatewayStatefulSet(
  cc: ChatCluster,
  spec: ResolvedSpec,
  names: ChildNames,
  w: GatewayWorkload,
): V1StatefulSet {
  const selector = selectorLabels(cc.metadata.name, "gateway");
  const p = spec.gateway.ports;
  const tls = w.internalTls
    ? tierTls(names, "gateway", cc.metadata.namespace ?? "default", cc.metadata.name)
    : undefined;
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: childMeta(cc, names.gatewayStatefulSet, "gateway"),
    spec: {
      replicas: w.replicas,
      serviceName: names.gatewayHeadlessService,
      // Scale-up starts every new pod at once; removals never come from the
      // StatefulSet controller in bulk, because the operator lowers replicas
      // one pod at a time (rollout/gateway-plan.ts).
      podManagementPolicy: "Parallel",
      // The operator deletes outdated pods itself, one drained pod at a time,
      // after logic has rolled: only it sees the logic tier and the drain.
      updateStrategy: { type: "OnDelete" },
      selector: { matchLabels: selector },
      template: withTierPod(
        {
          metadata: {
            labels: selector,
            annotations: {
              [CONFIG_HASH_ANNOTATION]: w.configHash,
              ...secretRollAnnotations(w.rolls, "gateway"),
            },
          },
          spec: {
            terminationGracePeriodSeconds: gatewayTerminationGraceSeconds(spec),
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: POD_SECURITY_CONTEXT,
            ...placement(spec.gateway.pod.placement, selector),
            containers: [
              {
                name: "gateway",
                image: w.image,
                imagePullPolicy: spec.images.gateway.pullPolicy,
                args: ["gateway", ...(tls?.args ?? [])],
                envFrom: [{ configMapRef: { name: names.gatewayConfig } }],
                env: [
                  fieldEnv("CHATCLUSTER_GATEWAY_ID", "metadata.name"),
                  fieldEnv("CHATCLUSTER_POD_NAMESPACE", "metadata.namespace"),
                  ...internalTokenEnv(names, w.rolls.tokenGeneration),
                ],
                ports: [
                  { name: "client", containerPort: p.client, protocol: "TCP" },
                  { name: "internal", containerPort: p.internal, protocol: "TCP" },
                  { name: "metrics", containerPort: p.metrics, protocol: "TCP" },
                ],
                ...OPS_PROBES,
                lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SLEEP_SECONDS } } },
                resources: resources(spec.gateway.resources),
                securityContext: CONTAINER_SECURITY_CONTEXT,
                volumeMounts: [{ name: "tmp", mountPath: "/tmp" }, ...(tls ? [tls.mount] : [])],
              },
            ],
            volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }, ...(tls ? [tls.volume] : [])],
          },
        },
        spec.gateway.pod,
        spec.imagePullSecrets,
        "gateway",
        "spec.gateway.podTemplate",
      ),
    },
  };
}

/** One gateway at a time may be evicted: each carries live connections that must drain. */
export function gatewayPdb(cc: ChatCluster, names: ChildNames): V1PodDisruptionBudget {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: childMeta(cc, names.gatewayPdb, "gateway"),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(cc.metadata.name, "gateway") } },
  };
}
