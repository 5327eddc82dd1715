// Hooks to the team's backend (docs/hooks.md): what the composition root and the handlers need.

import type { Registry } from "prom-client";
import { createHookMetrics } from "./hook-metrics.ts";
import { anyHookEnabled, type HookSettings } from "./hook-settings.ts";
import { Hooks } from "./hooks.ts";
import { createHooksClient } from "./hooks-client.ts";

export { type ConnectMode, type FailurePolicy, HOOK_NAMES, type HookName, hookFlags } from "./hook-flags.ts";
export {
  HOOK_FAILURE_CAUSES,
  HOOK_OUTCOMES,
  type HookFailureCause,
  type HookOutcome,
} from "./hook-metrics.ts";
export { anyHookEnabled, type HookLimits, type HookSettings, hookSettings } from "./hook-settings.ts";
export type { HookCaller, HookRefusalOut } from "./hooks.ts";
export { Hooks } from "./hooks.ts";
export { RoomSequencer } from "./room-sequencer.ts";

/** The hooks as configured, with their metrics on `registry`; undefined when none is enabled. */
export function createHooks(s: HookSettings, registry: Registry, maxBodyBytes: number): Hooks | undefined {
  const metrics = createHookMetrics(registry);
  if (!anyHookEnabled(s)) return undefined;
  const maxSockets = s.connect.concurrency + s.join.concurrency + s.send.concurrency + s.rpc.concurrency;
  const client = createHooksClient({ url: s.url, protocol: s.protocol, secret: s.secret, maxSockets });
  return new Hooks(client, s, metrics, maxBodyBytes);
}
