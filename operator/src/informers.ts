import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  type ObjectCache,
  Watch,
} from "@kubernetes/client-node";
import type { Logger } from "../../platform/logger.ts";
import { backoffCeilingMs } from "../../protocol/backoff.ts";
import type { KubeApi } from "./kube-api.ts";
import { resourceFor, resourcePath } from "./kube-api.ts";
import { METADATA_LIST_ACCEPT, MetadataWatch, slim } from "./metadata-watch.ts";

/**
 * One informer (list + watch + cache) per kind, kept alive.
 *
 * @kubernetes/client-node's ListWatch relists by itself after a 410 Gone and
 * reconnects after a clean watch end or a client-side timeout, but on any other
 * error (list failed, watch refused, connection reset) it emits 'error' and
 * stops for good. We restart it with exponential backoff. Handlers run inside
 * the client's callbacks, so they must never throw: each is wrapped.
 */
export interface InformerHandlers<T extends KubernetesObject> {
  onChange(obj: T): void;
  onDelete(obj: T): void;
}

export interface KeptInformer<T extends KubernetesObject> {
  readonly kind: string;
  readonly cache: ObjectCache<T>;
  /** True once a list succeeded. */
  readonly synced: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface InformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  api: KubeApi;
  kind: string;
  /** "" watches every namespace. */
  namespace: string;
  labelSelector?: string;
  /** e.g. metadata.name=x: one named object (RBAC may then grant it by resourceNames). */
  fieldSelector?: string;
  /** Cache only names and versions, never data (metadata-watch.ts). */
  metadataOnly?: boolean;
  handlers: InformerHandlers<T>;
  log: Logger;
  onRestart(kind: string): void;
  /** First restart delay; doubles up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

export function keepInformer<T extends KubernetesObject>(o: InformerOptions<T>): KeptInformer<T> {
  const path = resourcePath(o.kind, o.namespace);
  const r = resourceFor(o.kind);
  const params = new URLSearchParams();
  if (o.labelSelector !== undefined) params.set("labelSelector", o.labelSelector);
  if (o.fieldSelector !== undefined) params.set("fieldSelector", o.fieldSelector);
  const query = params.size === 0 ? "" : `?${params}`;
  const log = o.log.child({ informer: o.kind });
  const base = o.baseBackoffMs ?? 1000;
  const max = o.maxBackoffMs ?? 30_000;
  let synced = false;
  let stopped = false;
  let failures = 0;
  let lastError = 0;
  let timer: NodeJS.Timeout | undefined;

  const list = async (): Promise<KubernetesListObject<T>> => {
    const l = await o.api.get<KubernetesListObject<T>>(
      `${path}${query}`,
      o.metadataOnly ? METADATA_LIST_ACCEPT : undefined,
    );
    // An API server still starting may answer a metadata list with no items (a Status):
    // a failed list, retried with backoff like any other.
    if (!Array.isArray(l.items)) {
      const kind = (l as { kind?: unknown }).kind;
      throw new Error(`list ${o.kind}: the answer has no items (kind ${String(kind)})`);
    }
    // List items carry no apiVersion/kind; the reconciler and owner references want them.
    for (const item of l.items) {
      item.apiVersion ??= r.apiVersion;
      item.kind ??= o.kind;
    }
    if (o.metadataOnly) l.items = l.items.map((item) => slim(item, r.apiVersion, o.kind));
    synced = true;
    return l;
  };
  const informer = new ListWatch<T>(
    path,
    o.metadataOnly ? new MetadataWatch(o.kubeConfig, r.apiVersion, o.kind) : new Watch(o.kubeConfig),
    list,
    false,
    o.labelSelector,
    o.fieldSelector,
  );

  const guard =
    (what: string, fn: (obj: T) => void) =>
    (obj: T): void => {
      try {
        fn(obj);
      } catch (err) {
        log.error({ err, what }, "informer handler threw");
      }
    };
  informer.on("add", guard("add", o.handlers.onChange));
  informer.on("update", guard("update", o.handlers.onChange));
  informer.on("delete", guard("delete", o.handlers.onDelete));

  const restart = (): void => {
    if (stopped) return;
    // Errors spaced out by more than a minute start over from the base delay.
    const now = Date.now();
    if (now - lastError > 60_000) failures = 0;
    lastError = now;
    // The ceiling, without jitter: one operator restarting its own watch is no herd.
    const delay = backoffCeilingMs(failures++, { initialMs: base, maxMs: max });
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (stopped) return;
      o.onRestart(o.kind);
      log.info({ delayMs: delay }, "restarting informer");
      informer.start().catch((err: unknown) => {
        log.warn({ err }, "informer restart failed");
        restart();
      });
    }, delay);
    timer.unref();
  };
  informer.on("error", (err: unknown) => {
    if (stopped) return;
    log.warn(
      { err: err instanceof Error ? err.message : String(err) },
      "informer stopped on an error; will restart",
    );
    restart();
  });

  return {
    kind: o.kind,
    cache: informer,
    get synced() {
      return synced;
    },
    async start() {
      stopped = false;
      try {
        await informer.start();
      } catch (err) {
        log.warn({ err }, "informer start failed; will restart");
        restart();
      }
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
    },
  };
}
