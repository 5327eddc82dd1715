import { type KubeConfig, Watch } from "@kubernetes/client-node";

/**
 * Every pod change in a namespace, in the order the API server committed them
 * (one watch stream), with the state it leaves. Rollout tests assert on this
 * order: which pod started terminating when, and what else was live then.
 */

export interface PodState {
  name: string;
  uid: string;
  component: string;
  terminating: boolean;
  ready: boolean;
  image: string;
  templateHash: string | undefined;
  /** The internal token generation its template carried (chatcluster.io/internal-token-generation; 0 when absent). */
  tokenGeneration: number;
  finalizers: string[];
  /** The object's resourceVersion: an etcd revision on this API server, so ordered across kinds. */
  rv: number;
}

export interface PodEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  pod: PodState;
  /** Live pods right after this event. */
  live: PodState[];
}

interface RawPod {
  metadata: {
    name: string;
    uid: string;
    resourceVersion: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: { containers: { image: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

export class PodTimeline {
  readonly events: PodEvent[] = [];
  readonly #live = new Map<string, PodState>();
  readonly #listeners = new Set<(e: PodEvent) => void>();
  #abort: AbortController | undefined;
  #error: unknown;

  async start(kc: KubeConfig, namespace: string): Promise<void> {
    this.#abort = await new Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { labelSelector: "app.kubernetes.io/name=chatcluster" },
      (type: string, obj: RawPod) => this.#on(type as PodEvent["type"], obj),
      (err: unknown) => {
        if (err !== null && err !== undefined && this.#abort !== undefined) this.#error = err;
      },
    );
  }

  stop(): void {
    const a = this.#abort;
    this.#abort = undefined;
    a?.abort();
  }

  /** Throws if the watch broke: its events after that would be missing. */
  check(): void {
    if (this.#error !== undefined) throw new Error(`pod watch failed: ${String(this.#error)}`);
  }

  onEvent(fn: (e: PodEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  live(component?: string): PodState[] {
    return [...this.#live.values()].filter((p) => component === undefined || p.component === component);
  }

  /** Gateway pods in the order they started terminating, from event index `from`. */
  drainOrder(from = 0): string[] {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const e of this.events.slice(from)) {
      if (e.pod.component === "gateway" && e.pod.terminating && !seen.has(e.pod.uid)) {
        seen.add(e.pod.uid);
        out.push(e.pod.name);
      }
    }
    return out;
  }

  /** The most gateway pods terminating at once, from event index `from`. */
  maxTerminatingGateways(from = 0): number {
    let max = 0;
    for (const e of this.events.slice(from)) {
      max = Math.max(max, e.live.filter((p) => p.component === "gateway" && p.terminating).length);
    }
    return max;
  }

  #on(type: PodEvent["type"], raw: RawPod): void {
    const labels = raw.metadata.labels ?? {};
    const pod: PodState = {
      name: raw.metadata.name,
      uid: raw.metadata.uid,
      component: labels["app.kubernetes.io/component"] ?? "",
      terminating: raw.metadata.deletionTimestamp !== undefined,
      ready: raw.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
      image: raw.spec.containers[0]?.image ?? "",
      templateHash: labels["pod-template-hash"],
      tokenGeneration: Number(raw.metadata.annotations?.["chatcluster.io/internal-token-generation"] ?? 0),
      finalizers: raw.metadata.finalizers ?? [],
      rv: Number(raw.metadata.resourceVersion),
    };
    if (type === "DELETED") this.#live.delete(pod.uid);
    else this.#live.set(pod.uid, pod);
    const event: PodEvent = { type, pod, live: [...this.#live.values()] };
    this.events.push(event);
    for (const fn of this.#listeners) fn(event);
  }
}
