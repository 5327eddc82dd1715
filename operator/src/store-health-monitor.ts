import type { StoreHealth } from "../../platform/jetstream-health.ts";
import type { Logger } from "../../platform/logger.ts";

/** Where one ChatCluster's store lives: what its logic pods connect to. */
export interface StoreTarget {
  readonly servers: readonly string[];
  /** The message stream's name; the presence and read-marker streams follow from it. */
  readonly stream: string;
}

/** What the monitor needs of a probe (platform/jetstream-health.ts's StoreHealthProbe; a fake in unit tests). */
export interface HealthProbe {
  check(): Promise<StoreHealth>;
  close(): Promise<void>;
}

export interface StoreHealthMonitorOptions {
  /** Connects a probe; rejects when no server answers (the result is then Unreachable). */
  open(target: StoreTarget): Promise<HealthProbe>;
  /** Between two checks of one ChatCluster. */
  intervalMs: number;
  /** After a ChatCluster appears or its store changes: soon, but after its reconcile finished. */
  firstCheckMs?: number;
  /** Longest a connect or a check may take before the result is Unreachable. */
  checkTimeoutMs: number;
  /** A ChatCluster's health changed: reconcile it, so its status says so. */
  onChange(key: string): void;
  /** A ChatCluster's latest result, or undefined when it is forgotten. */
  onResult?(key: string, health: StoreHealth | undefined): void;
  log: Logger;
}

interface Watch {
  readonly key: string;
  readonly target: StoreTarget;
  readonly fingerprint: string;
  probe: HealthProbe | undefined;
  timer: NodeJS.Timeout | undefined;
  /** The loop of this watch ended (forgotten, retargeted or stopped): results are dropped. */
  ended: boolean;
  /** The check in flight, so stop() can wait for it and close its probe. */
  running: Promise<void> | undefined;
  last: StoreHealth | undefined;
}

const DEFAULT_FIRST_CHECK_MS = 1000;

/**
 * The replica health of every ChatCluster's JetStream store, checked off the
 * reconcile path: one probe (one NATS connection) per ChatCluster that uses
 * NATS, opened when the reconciler first sees it, replaced when its servers
 * or stream change, closed when it goes or leaves NATS. Each checks on its own
 * timer, one check at a time with a timeout, so a NATS that hangs delays
 * nothing but its own result; the reconciler only reads the latest one.
 */
export class StoreHealthMonitor {
  readonly #o: StoreHealthMonitorOptions;
  readonly #watches = new Map<string, Watch>();
  #stopped = false;

  constructor(o: StoreHealthMonitorOptions) {
    this.#o = o;
  }

  /** Called by every reconcile of `key` (cheap when nothing changed); undefined: the store is not NATS. */
  sync(key: string, target: StoreTarget | undefined): void {
    if (this.#stopped) return;
    const current = this.#watches.get(key);
    const fingerprint = target === undefined ? "" : `${target.servers.join(",")}|${target.stream}`;
    if (current?.fingerprint === fingerprint) return;
    if (current !== undefined) this.#end(current);
    if (target === undefined) return;
    const w: Watch = {
      key,
      target,
      fingerprint,
      probe: undefined,
      timer: undefined,
      ended: false,
      running: undefined,
      last: undefined,
    };
    this.#watches.set(key, w);
    this.#schedule(w, this.#o.firstCheckMs ?? DEFAULT_FIRST_CHECK_MS);
  }

  /** The ChatCluster was deleted: close its probe, drop its result. */
  forget(key: string): void {
    this.sync(key, undefined);
  }

  /** The latest result for `key`; undefined before the first check ends, or when its store is not NATS. */
  health(key: string): StoreHealth | undefined {
    return this.#watches.get(key)?.last;
  }

  /** ChatClusters watched (each holds at most one connection). */
  get size(): number {
    return this.#watches.size;
  }

  /** Ends every watch and waits for their connections to close. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const running = [...this.#watches.values()].map((w) => this.#end(w));
    await Promise.all(running);
  }

  #end(w: Watch): Promise<void> {
    w.ended = true;
    clearTimeout(w.timer);
    this.#watches.delete(w.key);
    this.#o.onResult?.(w.key, undefined);
    // A check in flight closes the probe it holds when it returns.
    const done = w.running ?? Promise.resolve();
    return done.then(() => closeProbe(w));
  }

  #schedule(w: Watch, delayMs: number): void {
    w.timer = setTimeout(() => {
      w.running = this.#run(w).finally(() => {
        w.running = undefined;
      });
    }, delayMs);
    w.timer.unref();
  }

  async #run(w: Watch): Promise<void> {
    const health = await this.#check(w);
    if (w.ended) return;
    const before = w.last;
    w.last = health;
    this.#o.onResult?.(w.key, health);
    if (
      before?.state !== health.state ||
      before.reason !== health.reason ||
      before.message !== health.message
    ) {
      this.#o.log.info(
        { chatcluster: w.key, state: health.state, reason: health.reason, message: health.message },
        "store health changed",
      );
      this.#o.onChange(w.key);
    }
    this.#schedule(w, this.#o.intervalMs);
  }

  async #check(w: Watch): Promise<StoreHealth> {
    const timeoutMs = this.#o.checkTimeoutMs;
    try {
      if (w.probe === undefined) {
        const opening = this.#o.open(w.target);
        // A connect that outlives the timeout still gets its probe closed.
        const probe = await withTimeout(opening, timeoutMs, "connecting").catch((err: unknown) => {
          opening.then((p) => p.close()).catch(() => {});
          throw err;
        });
        if (w.ended) {
          await probe.close().catch(() => {});
          return unreachable("the ChatCluster no longer uses this store");
        }
        w.probe = probe;
      }
      return await withTimeout(w.probe.check(), timeoutMs, "asking for stream info");
    } catch (err) {
      return unreachable(err instanceof Error ? err.message : String(err));
    }
  }
}

async function closeProbe(w: Watch): Promise<void> {
  const p = w.probe;
  w.probe = undefined;
  await p?.close().catch(() => {});
}

function unreachable(why: string): StoreHealth {
  return {
    state: "unknown",
    reason: "Unreachable",
    message: `JetStream API did not answer: ${why}`,
    streams: [],
    checkedAt: Date.now(),
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
