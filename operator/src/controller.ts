import type { Logger } from "../../platform/logger.ts";
import type { OperatorMetrics } from "./operator-metrics.ts";
import type { ReconcileResult } from "./reconciler.ts";
import type { WorkQueue } from "./work-queue.ts";

/**
 * The worker loop, apart from the business logic: N workers take keys from
 * the queue, run the reconcile, and then forget the key (success), re-add it
 * after a delay (requeue) or re-add it with backoff (error). The queue
 * guarantees one key never runs on two workers at once.
 */
export class Controller {
  readonly #queue: WorkQueue;
  readonly #reconcile: (key: string) => Promise<ReconcileResult>;
  readonly #metrics: OperatorMetrics;
  readonly #log: Logger;
  readonly #workers: number;
  #running: Promise<void>[] = [];

  constructor(
    queue: WorkQueue,
    reconcile: (key: string) => Promise<ReconcileResult>,
    metrics: OperatorMetrics,
    log: Logger,
    workers: number,
  ) {
    this.#queue = queue;
    this.#reconcile = reconcile;
    this.#metrics = metrics;
    this.#log = log;
    this.#workers = workers;
  }

  get running(): boolean {
    return this.#running.length > 0;
  }

  start(): void {
    if (this.#running.length > 0) return;
    for (let i = 0; i < this.#workers; i++) this.#running.push(this.#work(i));
  }

  /** Shuts the queue down and waits for in-flight reconciles to finish. */
  async stop(): Promise<void> {
    this.#queue.shutDown();
    await Promise.all(this.#running);
    this.#running = [];
  }

  async #work(worker: number): Promise<void> {
    for (;;) {
      const key = await this.#queue.get();
      if (key === undefined) return;
      const end = this.#metrics.reconcileDuration.startTimer();
      try {
        const result = await this.#reconcile(key);
        this.#queue.forget(key);
        if (result.requeueAfterMs !== undefined) {
          this.#metrics.reconcileTotal.inc({ result: "requeue" });
          this.#queue.addAfter(key, result.requeueAfterMs);
        } else {
          this.#metrics.reconcileTotal.inc({ result: "success" });
        }
      } catch (err) {
        this.#metrics.reconcileTotal.inc({ result: "error" });
        const retry = this.#queue.failures(key);
        this.#log.warn(
          { err: err instanceof Error ? err.message : String(err), key, worker, retry },
          "reconcile failed; retrying with backoff",
        );
        this.#queue.addRateLimited(key);
      } finally {
        end();
        this.#queue.done(key);
      }
    }
  }
}
