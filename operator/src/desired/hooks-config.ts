import type { V1Container } from "@kubernetes/client-node";
import type { HooksSpec } from "../api/chatcluster-types.ts";
import type { ResolvedSpec } from "../api/defaults.ts";
import { secretEnv } from "./pod-common.ts";

/**
 * `spec.logic.hooks` as logic's flags (docs/hooks.md): each field set in the
 * spec becomes its CHATCLUSTER_HOOK* variable, and fields left out keep the
 * logic tier's defaults. Nothing is added without a hooks block, so clusters
 * that use none keep their config (and their pods) as they are.
 */
export function hooksConfigData(hooks: HooksSpec | undefined): Record<string, string> {
  if (hooks === undefined) return {};
  const data: Record<string, string> = { CHATCLUSTER_HOOKS_URL: hooks.url };
  if (hooks.protocol !== undefined) data.CHATCLUSTER_HOOKS_PROTOCOL = hooks.protocol;
  const limits = (name: string, h: { timeout?: string; concurrency?: number; onFailure?: string }): void => {
    if (h.timeout !== undefined) data[`CHATCLUSTER_HOOK_${name}_TIMEOUT`] = h.timeout;
    if (h.concurrency !== undefined) data[`CHATCLUSTER_HOOK_${name}_CONCURRENCY`] = String(h.concurrency);
    if (h.onFailure !== undefined) data[`CHATCLUSTER_HOOK_${name}_ON_FAILURE`] = h.onFailure;
  };
  if (hooks.connect !== undefined) {
    if (hooks.connect.mode !== undefined) data.CHATCLUSTER_HOOK_CONNECT = hooks.connect.mode;
    limits("CONNECT", hooks.connect);
  }
  if (hooks.join !== undefined) {
    if (hooks.join.rooms !== undefined) data.CHATCLUSTER_HOOK_JOIN_ROOMS = hooks.join.rooms.join(",");
    limits("JOIN", hooks.join);
  }
  if (hooks.send !== undefined) {
    if (hooks.send.rooms !== undefined) data.CHATCLUSTER_HOOK_SEND_ROOMS = hooks.send.rooms.join(",");
    limits("SEND", hooks.send);
  }
  if (hooks.rpc !== undefined) {
    if (hooks.rpc.methods !== undefined) data.CHATCLUSTER_HOOK_RPC_METHODS = hooks.rpc.methods.join(",");
    limits("RPC", hooks.rpc);
  }
  return data;
}

/** The hooks secret as an env entry of the logic container, when the spec names one. */
export function hooksSecretEnv(spec: ResolvedSpec): NonNullable<V1Container["env"]> {
  const ref = spec.logic.hooks?.secretKeyRef;
  return ref === undefined ? [] : [secretEnv("CHATCLUSTER_HOOKS_SECRET", ref.name, ref.key)];
}
