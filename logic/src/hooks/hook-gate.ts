import { Code, ConnectError } from "@connectrpc/connect";
import type { Counter, Gauge, Histogram } from "prom-client";
import type { HookName } from "./hook-flags.ts";
import type { HookFailureCause, HookMetrics, HookOutcome } from "./hook-metrics.ts";

/** Calls that may wait for a slot, as a multiple of the concurrency limit. */
export const QUEUE_FACTOR = 16;

/** A hook call's answer, or why there is none. */
export type GateResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly cause: HookFailureCause; readonly detail: string };

/** A failure the caller found in an answer (an invalid identity, a body over the limit). */
export class BadHookResponse extends Error {
  override readonly name = "BadHookResponse";
}

interface Waiting {
  readonly start: () => void;
  /** Fails the call at its deadline while it still waits for a slot. */
  readonly timer: NodeJS.Timeout;
  /** Settled at its deadline: skipped when its turn comes. */
  expired: boolean;
}

/**
 * One hook's bound on calls: at most `concurrency` in flight, up to
 * QUEUE_FACTOR times as many waiting in a FIFO, each call with one deadline
 * from the moment it was asked for (so a wait for a slot counts against the
 * timeout). Never rejects: every call ends in a GateResult, and its outcome
 * is counted once by `settle`.
 */
export class HookGate {
  readonly name: HookName;
  readonly timeoutMs: number;
  readonly #concurrency: number;
  readonly #maxQueued: number;
  readonly #queue: Waiting[] = [];
  #inflight = 0;
  /** Entries of #queue not expired. */
  #waiting = 0;
  readonly #calls: Record<HookOutcome, Counter.Internal>;
  readonly #failures: Record<HookFailureCause, Counter.Internal>;
  readonly #duration: Histogram.Internal<"hook">;
  readonly #inflightGauge: Gauge.Internal<"hook">;
  readonly #queuedGauge: Gauge.Internal<"hook">;

  constructor(name: HookName, limits: { timeoutMs: number; concurrency: number }, metrics: HookMetrics) {
    this.name = name;
    this.timeoutMs = limits.timeoutMs;
    this.#concurrency = limits.concurrency;
    this.#maxQueued = limits.concurrency * QUEUE_FACTOR;
    const hook = { hook: name };
    this.#calls = {
      allow: metrics.calls.labels({ ...hook, outcome: "allow" }),
      refuse: metrics.calls.labels({ ...hook, outcome: "refuse" }),
      fail: metrics.calls.labels({ ...hook, outcome: "fail" }),
    };
    this.#failures = {
      timeout: metrics.failures.labels({ ...hook, cause: "timeout" }),
      unavailable: metrics.failures.labels({ ...hook, cause: "unavailable" }),
      overloaded: metrics.failures.labels({ ...hook, cause: "overloaded" }),
      error: metrics.failures.labels({ ...hook, cause: "error" }),
      bad_response: metrics.failures.labels({ ...hook, cause: "bad_response" }),
    };
    this.#duration = metrics.duration.labels(hook);
    this.#inflightGauge = metrics.inflight.labels(hook);
    this.#queuedGauge = metrics.queued.labels(hook);
  }

  /**
   * Runs `call` within the bounds; `interpret` turns its answer into the
   * caller's decision (throwing BadHookResponse for an unusable one) and says
   * whether it allows or refuses, for the calls counter.
   */
  run<A, T>(
    call: (timeoutMs: number) => Promise<A>,
    interpret: (answer: A) => { value: T; outcome: "allow" | "refuse" },
  ): Promise<GateResult<T>> {
    const t0 = performance.now();
    const deadline = t0 + this.timeoutMs;
    const finish = (r: GateResult<T>, outcome: HookOutcome): GateResult<T> => {
      this.#duration.observe((performance.now() - t0) / 1000);
      this.#calls[outcome].inc();
      if (!r.ok) this.#failures[r.cause].inc();
      return r;
    };
    const attempt = (): Promise<GateResult<T>> => {
      // At least 1 ms: a call started at its deadline's edge still gets a chance to answer.
      const remaining = Math.max(1, Math.ceil(deadline - performance.now()));
      return call(remaining).then(
        (answer) => {
          this.#release();
          try {
            const { value, outcome } = interpret(answer);
            return finish({ ok: true, value }, outcome);
          } catch (err) {
            if (!(err instanceof BadHookResponse)) throw err;
            return finish(failed("bad_response", err.message), "fail");
          }
        },
        (err: unknown) => {
          this.#release();
          return finish(classify(err), "fail");
        },
      );
    };
    if (this.#inflight < this.#concurrency) {
      this.#take();
      return attempt();
    }
    if (this.#waiting >= this.#maxQueued) {
      return Promise.resolve(finish(failed("overloaded", "too many calls waiting"), "fail"));
    }
    return new Promise((resolve) => {
      const w: Waiting = {
        start: () => {
          clearTimeout(w.timer);
          resolve(attempt());
        },
        timer: setTimeout(() => {
          w.expired = true;
          this.#waiting--;
          this.#queuedGauge.set(this.#waiting);
          resolve(finish(failed("timeout", "no slot before the deadline"), "fail"));
        }, this.timeoutMs),
        expired: false,
      };
      this.#queue.push(w);
      this.#waiting++;
      this.#queuedGauge.set(this.#waiting);
    });
  }

  #take(): void {
    this.#inflight++;
    this.#inflightGauge.set(this.#inflight);
  }

  #release(): void {
    this.#inflight--;
    let next = this.#queue.shift();
    while (next?.expired) next = this.#queue.shift();
    if (next !== undefined) {
      this.#waiting--;
      this.#queuedGauge.set(this.#waiting);
      this.#take();
      next.start();
    }
    this.#inflightGauge.set(this.#inflight);
  }
}

function failed(
  cause: HookFailureCause,
  detail: string,
): { ok: false; cause: HookFailureCause; detail: string } {
  return { ok: false, cause, detail };
}

/** Why a call threw: each branch names what the team's service (or the network) did. */
function classify(err: unknown): { ok: false; cause: HookFailureCause; detail: string } {
  const e = ConnectError.from(err);
  switch (e.code) {
    // Our deadline passed (connect-node turns timeoutMs into DeadlineExceeded).
    case Code.DeadlineExceeded:
      return failed("timeout", e.rawMessage);
    // Refused connections, resets, 502/503/504 from a proxy in front of the service.
    case Code.Unavailable:
      return failed("unavailable", e.rawMessage);
    // Anything the service answered with on purpose (internal, permission_denied, unimplemented, ...).
    default:
      return failed("error", `${Code[e.code]}: ${e.rawMessage}`);
  }
}
