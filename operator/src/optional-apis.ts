import type { KubeConfig, KubernetesObject, ObjectCache } from "@kubernetes/client-node";
import type { Logger } from "../../platform/logger.ts";
import { CERTIFICATE_API_VERSION } from "./desired/cert-manager.ts";
import { HTTP_ROUTE_API_VERSION } from "./desired/client-routes.ts";
import { MANAGED_BY_SELECTOR } from "./desired/names.ts";
import { SERVICE_MONITOR_API_VERSION } from "./desired/service-monitor.ts";
import { type InformerHandlers, type KeptInformer, keepInformer } from "./informers.ts";
import type { KubeApi } from "./kube-api.ts";

/**
 * APIs a ChatCluster may use that the cluster may not serve: the Prometheus
 * Operator's ServiceMonitor, the Gateway API's HTTPRoute and cert-manager's
 * Certificate. For each, the
 * operator keeps an informer of its children only while the API is served.
 *
 * It learns that an API appeared or went from a watch on the API's
 * CustomResourceDefinition, by name (a field selector, so RBAC can grant just
 * those names): installing the Prometheus Operator after the operator is
 * noticed within seconds. API discovery is the answer, asked whenever the
 * CRD changes (again briefly while a just-Established CRD is not yet listed)
 * and every `intervalMs` in case the CRD watch is not allowed.
 */

export type OptionalKind = "ServiceMonitor" | "HTTPRoute" | "Certificate";

interface ApiInfo {
  kind: OptionalKind;
  apiVersion: string;
  crd: string;
}

export const OPTIONAL_APIS: readonly ApiInfo[] = [
  {
    kind: "ServiceMonitor",
    apiVersion: SERVICE_MONITOR_API_VERSION,
    crd: "servicemonitors.monitoring.coreos.com",
  },
  { kind: "HTTPRoute", apiVersion: HTTP_ROUTE_API_VERSION, crd: "httproutes.gateway.networking.k8s.io" },
  { kind: "Certificate", apiVersion: CERTIFICATE_API_VERSION, crd: "certificates.cert-manager.io" },
];

/** How often discovery is asked again after a CRD change while the API is not listed yet. */
const SETTLE_RETRY_MS = 500;
const SETTLE_RETRIES = 20;

export interface OptionalApisOptions {
  kubeConfig: KubeConfig;
  api: KubeApi;
  /** "" watches every namespace. */
  namespace: string;
  log: Logger;
  onRestart(kind: string): void;
  /** The handlers of each child informer (enqueue the owner). */
  childHandlers: InformerHandlers<KubernetesObject>;
  /** An API appeared or went: every ChatCluster may need (or must lose) a child. */
  onChange(kind: OptionalKind, available: boolean): void;
  intervalMs: number;
}

export class OptionalApis {
  readonly #o: OptionalApisOptions;
  readonly #children = new Map<OptionalKind, KeptInformer<KubernetesObject>>();
  readonly #crdWatches: KeptInformer<KubernetesObject>[] = [];
  /** One discovery at a time per kind, so two answers never race to start or stop an informer. */
  readonly #busy = new Map<OptionalKind, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(o: OptionalApisOptions) {
    this.#o = o;
  }

  /** Discovers every API and starts the CRD watches; resolves once the first answers are in. */
  async start(): Promise<void> {
    for (const info of OPTIONAL_APIS) {
      const crdWatch = keepInformer<KubernetesObject>({
        kubeConfig: this.#o.kubeConfig,
        api: this.#o.api,
        kind: "CustomResourceDefinition",
        namespace: "",
        fieldSelector: `metadata.name=${info.crd}`,
        log: this.#o.log,
        onRestart: this.#o.onRestart,
        handlers: {
          onChange: (crd) => this.#settle(info, established(crd)),
          onDelete: () => this.#settle(info, false),
        },
      });
      this.#crdWatches.push(crdWatch);
    }
    await Promise.all([
      ...OPTIONAL_APIS.map((info) => this.#discover(info)),
      ...this.#crdWatches.map((w) => w.start()),
    ]);
    this.#timer = setInterval(() => {
      for (const info of OPTIONAL_APIS) void this.#discover(info);
    }, this.#o.intervalMs);
    this.#timer.unref();
  }

  available(kind: OptionalKind): boolean {
    return this.#children.has(kind);
  }

  /** The cache of this kind's children, while its API is served. */
  cache(kind: OptionalKind): ObjectCache<KubernetesObject> | undefined {
    return this.#children.get(kind)?.cache;
  }

  /** The child informers running now (readiness waits for them; the CRD watches it does not). */
  informers(): KeptInformer<KubernetesObject>[] {
    return [...this.#children.values()];
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await Promise.all([...this.#crdWatches, ...this.#children.values()].map((i) => i.stop()));
  }

  /** After a CRD event: ask discovery until it agrees with the CRD (it may lag a moment). */
  #settle(info: ApiInfo, expected: boolean): void {
    void (async () => {
      for (let i = 0; i < SETTLE_RETRIES && !this.#stopped; i++) {
        await this.#discover(info);
        if (this.available(info.kind) === expected) return;
        await new Promise((r) => setTimeout(r, SETTLE_RETRY_MS));
      }
    })();
  }

  #discover(info: ApiInfo): Promise<void> {
    const previous = this.#busy.get(info.kind) ?? Promise.resolve();
    const next = previous.then(() => this.#discoverOnce(info));
    this.#busy.set(info.kind, next);
    return next;
  }

  async #discoverOnce(info: ApiInfo): Promise<void> {
    if (this.#stopped) return;
    let served: boolean;
    try {
      served = await this.#o.api.hasKind(info.apiVersion, info.kind);
    } catch (err) {
      this.#o.log.warn({ err, kind: info.kind }, "API discovery failed; keeping the previous answer");
      return;
    }
    const running = this.#children.get(info.kind);
    if (served && running === undefined) {
      const informer = keepInformer<KubernetesObject>({
        kubeConfig: this.#o.kubeConfig,
        api: this.#o.api,
        kind: info.kind,
        namespace: this.#o.namespace,
        labelSelector: MANAGED_BY_SELECTOR,
        log: this.#o.log,
        onRestart: this.#o.onRestart,
        handlers: this.#o.childHandlers,
      });
      await informer.start();
      this.#children.set(info.kind, informer);
    } else if (!served && running !== undefined) {
      this.#children.delete(info.kind);
      await running.stop();
    } else {
      return;
    }
    this.#o.log.info({ kind: info.kind, available: served }, "optional API availability changed");
    this.#o.onChange(info.kind, served);
  }
}

function established(crd: KubernetesObject): boolean {
  const conditions = (crd as { status?: { conditions?: { type: string; status: string }[] } }).status
    ?.conditions;
  return conditions?.some((c) => c.type === "Established" && c.status === "True") === true;
}
