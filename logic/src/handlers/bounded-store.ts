import type {
  AppendInput,
  AppendResult,
  MessageStore,
  ReadOptions,
  ReadResult,
} from "../store/message-store.ts";
import { StoreError } from "../store/store-error.ts";
import type { LogicMetrics, StoreOp } from "./logic-metrics.ts";

export interface StoreBounds {
  /** Operations running at once. */
  readonly maxInFlight: number;
  /** Operations waiting for a slot; one more is rejected as `overloaded`. */
  readonly maxQueued: number;
}

/**
 * Wraps a store with this process's bound on concurrent store operations and
 * with metrics (latency, errors by code). Wrap once and hand the same instance
 * to the handlers and the server API so both share the bound.
 *
 * Past `maxInFlight` operations wait in a FIFO of at most `maxQueued`; beyond
 * that an operation fails at once with the retryable `overloaded` code, so a
 * slow store turns into quick retryable errors instead of growing memory.
 */
export function boundStore(store: MessageStore, bounds: StoreBounds, metrics: LogicMetrics): MessageStore {
  let inFlight = 0;
  // A ring would save the shift(); the queue is short-lived and bounded, and
  // head-index compaction keeps it O(1) amortised.
  let queue: (() => void)[] = [];
  let head = 0;

  const release = (): void => {
    inFlight--;
    if (head < queue.length) {
      const next = queue[head] as () => void;
      queue[head++] = noop;
      if (head > 1024 && head * 2 > queue.length) {
        queue = queue.slice(head);
        head = 0;
      }
      metrics.storeQueued.set(queue.length - head);
      next();
    } else {
      metrics.storeInflight.set(inFlight);
    }
  };

  const durations = {
    append: metrics.storeDuration.labels({ op: "append" }),
    read: metrics.storeDuration.labels({ op: "read" }),
    read_marker: metrics.storeDuration.labels({ op: "read_marker" }),
  } satisfies Record<StoreOp, unknown>;

  const run = <T>(op: StoreOp, fn: () => Promise<T>): Promise<T> => {
    const start = (): Promise<T> => {
      inFlight++;
      metrics.storeInflight.set(inFlight);
      const t0 = performance.now();
      return fn().then(
        (v) => {
          durations[op].observe((performance.now() - t0) / 1000);
          release();
          return v;
        },
        (err: unknown) => {
          metrics.storeErrors.inc({ op, code: err instanceof StoreError ? err.code : "store_unavailable" });
          release();
          throw err;
        },
      );
    };
    if (inFlight < bounds.maxInFlight) return start();
    if (queue.length - head >= bounds.maxQueued) {
      metrics.storeErrors.inc({ op, code: "overloaded" });
      return Promise.reject(new StoreError("overloaded", "too many store operations in this process"));
    }
    return new Promise<T>((resolve, reject) => {
      queue.push(() => {
        start().then(resolve, reject);
      });
      metrics.storeQueued.set(queue.length - head);
    });
  };

  return {
    kind: store.kind,
    append: (room: string, input: AppendInput): Promise<AppendResult> =>
      run("append", () => store.append(room, input)),
    read: (room: string, options: ReadOptions): Promise<ReadResult> =>
      run("read", () => store.read(room, options)),
    setReadMarker: (room: string, user: string, seq: number): Promise<number> =>
      run("read_marker", () => store.setReadMarker(room, user, seq)),
    getReadMarkers: (room: string, users: readonly string[]): Promise<Map<string, number>> =>
      run("read_marker", () => store.getReadMarkers(room, users)),
    close: () => store.close(),
  };
}

function noop(): void {}
