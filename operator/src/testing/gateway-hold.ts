import type { KubeApi } from "../kube-api.ts";
import { resourcePath } from "../kube-api.ts";
import { isNotFound } from "../operator-error.ts";
import type { PodEvent, PodState, PodTimeline } from "./pod-timeline.ts";

/**
 * Keeps each deleted gateway pod in Terminating, as a draining gateway is on a
 * real node, until the operator has had its chance to misbehave: the test's
 * finalizer (honoured by the control plane's `holdPodsWithFinalizers` kwok
 * stage) is removed only after `hadChance` resolves, which waits for whole
 * reconciles that started after the pod was seen terminating. An operator that
 * did not wait for the pod to be gone would delete a second one meanwhile.
 */
export const HOLD_FINALIZER = "test.chatcluster.io/hold";

export interface GatewayHoldOptions {
  api: KubeApi;
  namespace: string;
  timeline: PodTimeline;
  /** Resolves once the operator has run a reconcile that began after this call. */
  hadChance: () => Promise<void>;
}

export class GatewayHold {
  readonly #o: GatewayHoldOptions;
  readonly #handled = new Set<string>();
  readonly #pending = new Set<Promise<void>>();
  #beforeRelease: ((pod: PodState) => Promise<void>) | undefined;
  #errors: unknown[] = [];
  readonly #unsubscribe: () => void;

  constructor(o: GatewayHoldOptions) {
    this.#o = o;
    this.#unsubscribe = o.timeline.onEvent((e) => this.#on(e));
    for (const p of o.timeline.live("gateway")) this.#on({ type: "MODIFIED", pod: p, live: [] });
  }

  /** Runs once for the next pod about to be released (e.g. to pause the rollout mid-way). */
  beforeNextRelease(fn: (pod: PodState) => Promise<void>): void {
    this.#beforeRelease = fn;
  }

  /** Every live gateway pod carries the finalizer (so none can vanish unobserved). */
  allHeld(): boolean {
    return this.#o.timeline
      .live("gateway")
      .every((p) => p.terminating || p.finalizers.includes(HOLD_FINALIZER));
  }

  check(): void {
    if (this.#errors.length > 0)
      throw new Error(`gateway hold failed: ${this.#errors.map(String).join("; ")}`);
  }

  async stop(): Promise<void> {
    this.#unsubscribe();
    await Promise.allSettled([...this.#pending]);
  }

  #on(e: PodEvent): void {
    const p = e.pod;
    if (p.component !== "gateway" || e.type === "DELETED") return;
    if (!p.terminating && !p.finalizers.includes(HOLD_FINALIZER) && !this.#handled.has(`add/${p.uid}`)) {
      this.#handled.add(`add/${p.uid}`);
      this.#track(this.#patch(p, [...p.finalizers, HOLD_FINALIZER]));
    }
    if (p.terminating && p.finalizers.includes(HOLD_FINALIZER) && !this.#handled.has(`release/${p.uid}`)) {
      this.#handled.add(`release/${p.uid}`);
      this.#track(this.#release(p));
    }
  }

  async #release(p: PodState): Promise<void> {
    await this.#o.hadChance();
    const hook = this.#beforeRelease;
    this.#beforeRelease = undefined;
    if (hook !== undefined) {
      await hook(p);
      await this.#o.hadChance();
    }
    await this.#patch(
      p,
      p.finalizers.filter((f) => f !== HOLD_FINALIZER),
    );
  }

  async #patch(p: PodState, finalizers: string[]): Promise<void> {
    try {
      await this.#o.api.mergePatch(resourcePath("Pod", this.#o.namespace, p.name), {
        metadata: { uid: p.uid, finalizers: finalizers.length > 0 ? finalizers : null },
      });
    } catch (err) {
      // The pod (or this incarnation of the name) is gone already.
      if (!isNotFound(err) && !/409|Precondition|uid/i.test(String(err))) this.#errors.push(err);
    }
  }

  #track(p: Promise<void>): void {
    const t = p.catch((err: unknown) => {
      this.#errors.push(err);
    });
    this.#pending.add(t);
    void t.finally(() => this.#pending.delete(t));
  }
}
