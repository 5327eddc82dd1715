import { EventEmitter } from "node:events";
import {
  DiscoveryV1Api,
  type KubeConfig,
  makeInformer,
  type V1EndpointSlice,
  type V1EndpointSliceList,
} from "@kubernetes/client-node";
import type { Logger } from "../../../platform/logger.ts";
import { backoffDelayMs } from "../../../protocol/backoff.ts";
import { type Discovery, type DiscoveryEvents, type GatewayEndpoint, sameEndpoints } from "./discovery.ts";
import type { DiscoveryMetrics } from "./discovery-metrics.ts";

export interface EndpointSliceDiscoveryOptions {
  kubeConfig: KubeConfig;
  /** Namespace of the gateways' headless Service. */
  namespace: string;
  /** Name of the gateways' headless Service; slices carry it as `kubernetes.io/service-name`. */
  serviceName: string;
  /** Port name of the internal gRPC port in the slices; when absent there, the first port is used. */
  portName: string;
  log: Logger;
  metrics: DiscoveryMetrics;
  /** First delay before restarting a failed watch; doubles up to maxBackoffMs, full jitter. Default 500 ms. */
  baseBackoffMs?: number;
  /** Cap of the restart delay. Default 30 s. */
  maxBackoffMs?: number;
}

const DEFAULT_BASE_BACKOFF_MS = 500;
const DEFAULT_MAX_BACKOFF_MS = 30_000;

/**
 * Gateways from the EndpointSlices of their headless Service.
 *
 * Every endpoint with an address counts, whatever its conditions say, until it
 * leaves the slices (its pod is gone or has no IP): the conditions describe
 * whether a gateway takes clients, not whether logic should stream to it.
 *   - not ready (not serving): a starting gateway turns ready only once a logic
 *     stream is connected, so waiting for `serving` would never connect at all;
 *   - ready: the usual case;
 *   - terminating: a draining gateway (no longer serving) still delivers to the
 *     clients it has until it exits.
 * The guarantee that clients reach only gateways with a logic stream is the
 * gateway's readiness (its /readyz needs one), which gates the client Service.
 *
 * Failure handling: the client library's list-watch relists by itself after a
 * 410 Gone and reconnects after its 30 s inactivity timeout (which is also what
 * unsticks a half-open watch), but on any other error it stops for good. So
 * every "error" schedules a restart with capped exponential backoff and full
 * jitter; the current set is kept meanwhile, because a control-plane outage is
 * no reason to drop streams to gateways that are still serving.
 */
export class EndpointSliceDiscovery extends EventEmitter<DiscoveryEvents> implements Discovery {
  readonly #opts: EndpointSliceDiscoveryOptions;
  readonly #informer: ReturnType<typeof makeInformer<V1EndpointSlice>>;
  #current: readonly GatewayEndpoint[] = [];
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #recomputeQueued = false;
  #stopped = true;

  constructor(opts: EndpointSliceDiscoveryOptions) {
    super();
    this.#opts = opts;
    const api = opts.kubeConfig.makeApiClient(DiscoveryV1Api);
    const labelSelector = `kubernetes.io/service-name=${opts.serviceName}`;
    const path = `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(opts.namespace)}/endpointslices`;
    const list = (): Promise<V1EndpointSliceList> =>
      api.listNamespacedEndpointSlice({ namespace: opts.namespace, labelSelector });
    this.#informer = makeInformer<V1EndpointSlice>(opts.kubeConfig, path, list, labelSelector);
    for (const verb of ["add", "update", "delete"] as const) {
      this.#informer.on(verb, () => {
        opts.metrics.events.inc({ kind: verb });
        this.#failures = 0;
        this.#queueRecompute();
      });
    }
    this.#informer.on("connect", () => opts.metrics.events.inc({ kind: "connect" }));
    this.#informer.on("error", (err: unknown) => this.#onError(err));
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.#informer.start();
    this.#recompute();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    await this.#informer.stop();
  }

  endpoints(): readonly GatewayEndpoint[] {
    return this.#current;
  }

  #onError(err: unknown): void {
    this.#opts.metrics.events.inc({ kind: "error" });
    if (this.#stopped) return;
    const error = err instanceof Error ? err : new Error(String(err));
    this.#failures++;
    const delayMs = backoffDelayMs(this.#failures - 1, {
      initialMs: this.#opts.baseBackoffMs ?? DEFAULT_BASE_BACKOFF_MS,
      maxMs: this.#opts.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
    });
    this.#opts.log.warn(
      { err: error.message, failures: this.#failures, retryInMs: delayMs },
      "endpointslice watch failed; restarting",
    );
    if (this.listenerCount("error") > 0) this.emit("error", error);
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopped) return;
      this.#opts.metrics.events.inc({ kind: "restart" });
      // start() reports its own failures through "error", which schedules the next try.
      this.#informer.start().then(
        () => this.#recompute(),
        (e: unknown) => this.#onError(e),
      );
    }, delayMs);
  }

  /** Several slice events usually arrive together (a rollout touches many); recompute once. */
  #queueRecompute(): void {
    if (this.#recomputeQueued) return;
    this.#recomputeQueued = true;
    queueMicrotask(() => {
      this.#recomputeQueued = false;
      this.#recompute();
    });
  }

  #recompute(): void {
    if (this.#stopped) return;
    const next = gatewayEndpoints(this.#informer.list(this.#opts.namespace), this.#opts.portName);
    this.#opts.metrics.endpoints.set(next.length);
    if (sameEndpoints(this.#current, next)) return;
    this.#current = next;
    this.emit("change", next);
  }
}

/** Every gateway pod of a set of slices, ready or not, one per pod, addressed at the internal port. */
export function gatewayEndpoints(slices: readonly V1EndpointSlice[], portName: string): GatewayEndpoint[] {
  const byId = new Map<string, GatewayEndpoint>();
  for (const slice of slices) {
    const ports = slice.ports ?? [];
    const port = (ports.find((p) => p.name === portName) ?? ports[0])?.port;
    if (port === undefined) continue;
    for (const ep of slice.endpoints ?? []) {
      const ip = ep.addresses[0];
      if (ip === undefined) continue;
      const host = ip.includes(":") ? `[${ip}]` : ip;
      // A gateway's id is its pod name (the StatefulSet's hostname): that is who must answer here.
      const named = ep.targetRef?.name ?? ep.hostname;
      const id = named ?? ip;
      byId.set(
        id,
        named === undefined
          ? { id, address: `${host}:${port}` }
          : { id, address: `${host}:${port}`, gatewayId: named },
      );
    }
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
