import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../platform/logger.ts";
import type { KubeApi } from "./kube-api.ts";
import { resourcePath } from "./kube-api.ts";
import { isConflict, isNotFound } from "./operator-error.ts";

/**
 * Leader election on a coordination.k8s.io/v1 Lease, the client-go algorithm:
 * read the Lease; take it if it is free (no holder), ours, or not renewed for
 * leaseDuration as observed on *our* clock (no cross-node clock comparison);
 * write with the read resourceVersion so two candidates can never both win.
 * The leader renews every retryPeriod and steps down if it could not renew
 * for renewDeadline. On shutdown it releases the Lease (empty holder, 1s
 * duration) so a standby takes over at its next retry instead of waiting out
 * the lease.
 */
export interface LeaderElectionOptions {
  api: KubeApi;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: Logger;
  onStartedLeading(): void;
  /** Called once when leadership is lost (not on a clean release). */
  onStoppedLeading(): void;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** MicroTime: the API server parses exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElector {
  readonly #o: LeaderElectionOptions;
  #leading = false;
  #stopped = false;
  #wake: AbortController = new AbortController();
  #observed: { key: string; at: number } | undefined;
  #loop: Promise<void> | undefined;

  constructor(opts: LeaderElectionOptions) {
    if (!(opts.leaseDurationMs > opts.renewDeadlineMs && opts.renewDeadlineMs > opts.retryPeriodMs)) {
      throw new Error("leader election needs leaseDuration > renewDeadline > retryPeriod");
    }
    this.#o = opts;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** Starts campaigning in the background. */
  start(): void {
    this.#loop ??= this.#run().catch((err: unknown) => {
      this.#o.log.error({ err }, "leader election loop failed");
    });
  }

  /** Stops campaigning; a leader releases the Lease first. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake.abort();
    await this.#loop;
    if (this.#leading) {
      this.#leading = false;
      await this.#release();
    }
  }

  async #run(): Promise<void> {
    const o = this.#o;
    while (!this.#stopped) {
      if (await this.#tryAcquireOrRenew()) break;
      await this.#pause(o.retryPeriodMs * (1 + Math.random() * 0.2));
    }
    if (this.#stopped) return;
    this.#leading = true;
    o.log.info({ lease: `${o.namespace}/${o.name}`, identity: o.identity }, "became leader");
    o.onStartedLeading();
    let lastRenew = Date.now();
    while (!this.#stopped) {
      await this.#pause(o.retryPeriodMs);
      if (this.#stopped) return;
      if (await this.#tryAcquireOrRenew()) {
        lastRenew = Date.now();
        continue;
      }
      if (Date.now() - lastRenew >= o.renewDeadlineMs) {
        this.#leading = false;
        o.log.error(
          { renewDeadlineMs: o.renewDeadlineMs },
          "lost leadership: could not renew the lease in time",
        );
        o.onStoppedLeading();
        return;
      }
    }
  }

  async #pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.#wake.signal });
    } catch {
      // Woken by stop().
    }
  }

  /** One attempt; true when we hold the Lease afterwards. Errors count as "not now". */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const o = this.#o;
    const path = resourcePath("Lease", o.namespace, o.name);
    const now = Date.now();
    const durationSeconds = Math.max(1, Math.round(o.leaseDurationMs / 1000));
    let lease: Lease;
    try {
      lease = await o.api.get<Lease>(path);
    } catch (err) {
      if (!isNotFound(err)) {
        o.log.warn({ err }, "reading the leader lease failed");
        return false;
      }
      try {
        await o.api.create(resourcePath("Lease", o.namespace), {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: o.name, namespace: o.namespace },
          spec: {
            holderIdentity: o.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        });
        return true;
      } catch (createErr) {
        if (!isConflict(createErr)) o.log.warn({ err: createErr }, "creating the leader lease failed");
        return false;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const key = `${holder}|${spec.renewTime ?? ""}|${lease.metadata.resourceVersion ?? ""}`;
    if (this.#observed?.key !== key) this.#observed = { key, at: now };
    const observedAt = this.#observed.at;
    const heldFor = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder !== "" && holder !== o.identity && observedAt + heldFor > now) return false;
    const ours = holder === o.identity;
    const next: Lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { ...lease.metadata },
      spec: {
        holderIdentity: o.identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: ours && spec.acquireTime ? spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
      },
    };
    try {
      const written = await o.api.replace<Lease>(path, next);
      this.#observed = {
        key: `${o.identity}|${written.spec?.renewTime ?? ""}|${written.metadata.resourceVersion ?? ""}`,
        at: now,
      };
      return true;
    } catch (err) {
      if (!isConflict(err)) o.log.warn({ err }, "writing the leader lease failed");
      return false;
    }
  }

  async #release(): Promise<void> {
    const o = this.#o;
    const path = resourcePath("Lease", o.namespace, o.name);
    try {
      const lease = await o.api.get<Lease>(path);
      if (lease.spec?.holderIdentity !== o.identity) return;
      await o.api.replace(path, {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          renewTime: microTime(Date.now()),
        },
      });
      o.log.info({ lease: `${o.namespace}/${o.name}` }, "released the leader lease");
    } catch (err) {
      o.log.warn({ err }, "releasing the leader lease failed; a standby takes over after the lease expires");
    }
  }
}
