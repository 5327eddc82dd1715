import { durationFlag, enumFlag, type Flag, intFlag, listFlag, stringFlag } from "../../../platform/flags.ts";
import { patternProblem } from "../../../protocol/room-pattern.ts";

/**
 * The flags of the hooks to the team's backend (docs/hooks.md), spread into
 * logicFlags. Every hook is off until enabled: Connect by its mode, Join and
 * Send by room patterns, Rpc by method patterns. Each has its own timeout,
 * concurrency limit and failure policy, so a slow Rpc method cannot use up
 * the slots that gate every send.
 */

export type HookName = "connect" | "join" | "send" | "rpc";
export const HOOK_NAMES: readonly HookName[] = ["connect", "join", "send", "rpc"];
export type FailurePolicy = "refuse" | "allow";
export type ConnectMode = "off" | "after" | "instead";

/** One second: long enough for a backend call across a cluster, short enough to hold a room's order. */
const DEFAULT_TIMEOUT_MS = 1000;
/** Calls of one hook in flight per logic process. */
const DEFAULT_CONCURRENCY = 64;

function timeoutFlag(hook: string): Flag<number> {
  return durationFlag(
    `CHATCLUSTER_HOOK_${hook}_TIMEOUT`,
    DEFAULT_TIMEOUT_MS,
    `Deadline of one ${hook.toLowerCase()} hook call, waiting for a slot included; past it the failure policy applies.`,
    10,
    60_000,
  );
}

function concurrencyFlag(hook: string): Flag<number> {
  return intFlag(
    `CHATCLUSTER_HOOK_${hook}_CONCURRENCY`,
    DEFAULT_CONCURRENCY,
    `${hook.toLowerCase()} hook calls in flight per logic process; up to 16 times as many wait for a slot, more fail as overloaded.`,
    1,
    10_000,
  );
}

function failureFlag(hook: string): Flag<FailurePolicy> {
  return enumFlag<FailurePolicy>(
    `CHATCLUSTER_HOOK_${hook}_ON_FAILURE`,
    "refuse",
    `When a ${hook.toLowerCase()} hook call fails (timeout, error, overload): refuse (the client gets a retryable unavailable) or allow (as if the hook allowed it unchanged).`,
    ["refuse", "allow"],
  );
}

function patternsFlag(env: string, help: string): Flag<readonly string[]> {
  return listFlag(
    env,
    help,
    "a comma-separated list of patterns (`*` one segment, a trailing `>` the rest)",
    (p) => {
      const problem = patternProblem(p);
      if (problem !== undefined) throw new Error(problem);
    },
  );
}

export const hookFlags = {
  hooksUrl: stringFlag(
    "CHATCLUSTER_HOOKS_URL",
    "",
    "Base URL of the team's chatcluster.v1.ChatHooks service; needed when any hook is enabled.",
    "an http:// or https:// URL",
  ),
  hooksProtocol: enumFlag(
    "CHATCLUSTER_HOOKS_PROTOCOL",
    "connect",
    "How hooks are called: connect (Connect JSON over HTTP/1.1) or grpc (gRPC over HTTP/2; h2c for http://).",
    ["connect", "grpc"],
  ),
  hooksSecret: stringFlag(
    "CHATCLUSTER_HOOKS_SECRET",
    "",
    "Sent as `Authorization: Bearer <secret>` on every hook call so the hooks service knows the caller.",
  ),
  hookConnect: enumFlag<ConnectMode>(
    "CHATCLUSTER_HOOK_CONNECT",
    "off",
    "Connect hook: off; after (the JWT is verified first, the hook may refuse or replace the identity); instead (no JWT: the raw token goes to the hook, which decides).",
    ["off", "after", "instead"],
  ),
  hookConnectTimeout: timeoutFlag("CONNECT"),
  hookConnectConcurrency: concurrencyFlag("CONNECT"),
  hookConnectOnFailure: failureFlag("CONNECT"),
  hookJoinRooms: patternsFlag(
    "CHATCLUSTER_HOOK_JOIN_ROOMS",
    "Rooms whose joins go through the Join hook (after the read check); empty: none.",
  ),
  hookJoinTimeout: timeoutFlag("JOIN"),
  hookJoinConcurrency: concurrencyFlag("JOIN"),
  hookJoinOnFailure: failureFlag("JOIN"),
  hookSendRooms: patternsFlag(
    "CHATCLUSTER_HOOK_SEND_ROOMS",
    "Rooms whose sends and edits go through the Send hook (after the write check), in order per room; empty: none.",
  ),
  hookSendTimeout: timeoutFlag("SEND"),
  hookSendConcurrency: concurrencyFlag("SEND"),
  hookSendOnFailure: failureFlag("SEND"),
  hookRpcMethods: patternsFlag(
    "CHATCLUSTER_HOOK_RPC_METHODS",
    "Methods a client may `call` (answered by the Rpc hook); empty: none.",
  ),
  hookRpcTimeout: timeoutFlag("RPC"),
  hookRpcConcurrency: concurrencyFlag("RPC"),
  hookRpcOnFailure: failureFlag("RPC"),
} as const;
