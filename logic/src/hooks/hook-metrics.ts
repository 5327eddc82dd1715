import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { HOOK_NAMES } from "./hook-flags.ts";

/**
 * What a hook call came to: allow (as asked, or rewritten), refuse (the hook
 * said no), fail (no usable answer; the failure policy decided).
 */
export type HookOutcome = "allow" | "refuse" | "fail";
export const HOOK_OUTCOMES: readonly HookOutcome[] = ["allow", "refuse", "fail"];

/**
 * Why a hook call failed: timeout (no answer within the hook's timeout,
 * waiting for a slot included); unavailable (the service could not be
 * reached); overloaded (this process had the hook's concurrency and queue
 * full); error (the service answered with an error); bad_response (an answer
 * logic cannot use: an invalid identity, a body over the limit).
 */
export type HookFailureCause = "timeout" | "unavailable" | "overloaded" | "error" | "bad_response";
export const HOOK_FAILURE_CAUSES: readonly HookFailureCause[] = [
  "timeout",
  "unavailable",
  "overloaded",
  "error",
  "bad_response",
];

export interface HookMetrics {
  readonly calls: Counter<"hook" | "outcome">;
  readonly duration: Histogram<"hook">;
  readonly failures: Counter<"hook" | "cause">;
  readonly inflight: Gauge<"hook">;
  readonly queued: Gauge<"hook">;
}

export function createHookMetrics(registry: Registry): HookMetrics {
  const registers = [registry];
  const m: HookMetrics = {
    calls: new Counter({
      name: "chatcluster_logic_hook_calls_total",
      help: "Hook calls by hook (connect, join, send, rpc) and outcome (allow, refuse, fail).",
      labelNames: ["hook", "outcome"] as const,
      registers,
    }),
    duration: new Histogram({
      name: "chatcluster_logic_hook_duration_seconds",
      help: "Time an event waited for its hook: from needing the call (a wait for a slot included) to its answer or failure.",
      labelNames: ["hook"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    failures: new Counter({
      name: "chatcluster_logic_hook_failures_total",
      help: "Hook calls without a usable answer, by hook and cause (timeout, unavailable, overloaded, error, bad_response).",
      labelNames: ["hook", "cause"] as const,
      registers,
    }),
    inflight: new Gauge({
      name: "chatcluster_logic_hook_inflight_calls",
      help: "Hook calls in flight in this process, by hook.",
      labelNames: ["hook"] as const,
      registers,
    }),
    queued: new Gauge({
      name: "chatcluster_logic_hook_queued_calls",
      help: "Hook calls waiting for a slot in this process, by hook.",
      labelNames: ["hook"] as const,
      registers,
    }),
  };
  for (const hook of HOOK_NAMES) {
    m.duration.zero({ hook });
    m.inflight.set({ hook }, 0);
    m.queued.set({ hook }, 0);
    for (const outcome of HOOK_OUTCOMES) m.calls.inc({ hook, outcome }, 0);
    for (const cause of HOOK_FAILURE_CAUSES) m.failures.inc({ hook, cause }, 0);
  }
  return m;
}
