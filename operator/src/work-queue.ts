import { backoffCeilingMs } from "../../protocol/backoff.ts";

/**
 * A deduplicating, rate-limited work queue of reconcile keys ("namespace/name"),
 * shaped like client-go's: a key is queued at most once however many events
 * name it, and is never handed to two workers at once. An add while the key is
 * being processed marks it dirty; `done` re-queues it, so the last event is
 * never lost. Failed keys come back after a per-key exponential backoff.
 *
 * Bounded by construction: at most one entry and one timer per key, and keys
 * are objects that exist in the cluster.
 */
export interface WorkQueueHooks {
  onAdd?(): void;
  onRetry?(): void;
  onDepth?(depth: number): void;
}

export interface WorkQueueOptions {
  /** First retry delay (doubles per consecutive failure of a key). */
  baseDelayMs?: number;
  /** Retry delay ceiling. */
  maxDelayMs?: number;
  hooks?: WorkQueueHooks;
}

export const DEFAULT_BASE_DELAY_MS = 200;
export const DEFAULT_MAX_DELAY_MS = 5 * 60 * 1000; // 5 minutes

export class WorkQueue {
  readonly #queue: string[] = [];
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #waiters: ((key: string | undefined) => void)[] = [];
  readonly #delayed = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  readonly #failures = new Map<string, number>();
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #hooks: WorkQueueHooks;
  #shuttingDown = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.#baseDelayMs = opts.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.#maxDelayMs = opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.#hooks = opts.hooks ?? {};
  }

  /** Keys waiting to be handed out (not counting those in progress or delayed). */
  get length(): number {
    return this.#queue.length;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#hooks.onAdd?.();
    this.#dirty.add(key);
    if (this.#processing.has(key)) return; // `done` re-queues it
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      waiter(key);
      return;
    }
    this.#queue.push(key);
    this.#hooks.onDepth?.(this.#queue.length);
  }

  /** Adds after `delayMs`; an earlier pending delay for the key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const due = Date.now() + delayMs;
    const existing = this.#delayed.get(key);
    if (existing !== undefined && existing.due <= due) return;
    if (existing !== undefined) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.#delayed.set(key, { due, timer });
  }

  /** Re-adds a failed key after its backoff: base * 2^failures, capped. */
  addRateLimited(key: string): void {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    this.#hooks.onRetry?.();
    this.addAfter(key, this.backoffMs(failures));
  }

  backoffMs(failures: number): number {
    // The ceiling, without jitter: a requeue runs on this one process, no herd to spread.
    return backoffCeilingMs(failures, { initialMs: this.#baseDelayMs, maxMs: this.#maxDelayMs });
  }

  /** Clears a key's failure count after a success. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The next key, marked in progress; undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      this.#hooks.onDepth?.(this.#queue.length);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Marks a key finished; if it was added meanwhile, it goes back in the queue. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) {
      this.#dirty.delete(key);
      this.add(key);
    }
  }

  /** Wakes every waiting worker with undefined and drops pending work. */
  shutDown(): void {
    this.#shuttingDown = true;
    for (const { timer } of this.#delayed.values()) clearTimeout(timer);
    this.#delayed.clear();
    this.#queue.length = 0;
    this.#dirty.clear();
    this.#hooks.onDepth?.(0);
    for (const w of this.#waiters.splice(0)) w(undefined);
  }
}
