import { type KubeConfig, Watch } from "@kubernetes/client-node";

export interface SeenCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
}

interface SeenChatCluster {
  metadata: { name: string };
  status?: { conditions?: SeenCondition[] };
}

/**
 * The ChatClusters of one namespace as a watch delivers them: a test waits
 * for a condition on the events that change it, not by polling. The watch is
 * reopened when the API server ends it.
 */
export class ConditionWatch {
  readonly #latest = new Map<string, SeenChatCluster>();
  readonly #listeners = new Set<() => void>();
  #abort: AbortController | undefined;
  #stopped = false;
  #kc: KubeConfig | undefined;
  #namespace = "";

  async start(kc: KubeConfig, namespace: string): Promise<void> {
    this.#kc = kc;
    this.#namespace = namespace;
    await this.#open();
  }

  async #open(): Promise<void> {
    if (this.#stopped || this.#kc === undefined) return;
    this.#abort = await new Watch(this.#kc).watch(
      `/apis/chatcluster.io/v1alpha1/namespaces/${this.#namespace}/chatclusters`,
      {},
      (type: string, obj: SeenChatCluster) => {
        if (type === "DELETED") this.#latest.delete(obj.metadata.name);
        else this.#latest.set(obj.metadata.name, obj);
        for (const l of this.#listeners) l();
      },
      () => {
        // Ended (timeout or error): a new watch lists the current state again with ADDED events.
        if (!this.#stopped) setTimeout(() => void this.#open().catch(() => {}), 200);
      },
    );
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
  }

  condition(name: string, type: string): SeenCondition | undefined {
    return this.#latest.get(name)?.status?.conditions?.find((c) => c.type === type);
  }

  /** Resolves with the condition once `check` accepts it; rejects after timeoutMs naming the last one seen. */
  until(
    name: string,
    type: string,
    check: (c: SeenCondition) => boolean,
    timeoutMs: number,
  ): Promise<SeenCondition> {
    return new Promise((resolve, reject) => {
      const test = () => {
        const c = this.condition(name, type);
        if (c === undefined || !check(c)) return;
        done();
        resolve(c);
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${name}'s ${type}; last: ${JSON.stringify(this.condition(name, type))}`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#listeners.delete(test);
      };
      this.#listeners.add(test);
      test();
    });
  }
}
