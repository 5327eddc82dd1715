import { ConfigError } from "../../../platform/config-error.ts";
import type { FlagValues } from "../../../platform/flags.ts";
import type { ConnectMode, FailurePolicy, hookFlags } from "./hook-flags.ts";

/** One hook's bounds and failure policy. */
export interface HookLimits {
  readonly timeoutMs: number;
  readonly concurrency: number;
  readonly onFailure: FailurePolicy;
}

/** The hooks as configured: which are on, where the service is, and each one's bounds. */
export interface HookSettings {
  readonly url: string;
  readonly protocol: "connect" | "grpc";
  readonly secret: string;
  readonly connect: HookLimits & { readonly mode: ConnectMode };
  readonly join: HookLimits & { readonly rooms: readonly string[] };
  readonly send: HookLimits & { readonly rooms: readonly string[] };
  readonly rpc: HookLimits & { readonly methods: readonly string[] };
}

export type HookConfig = FlagValues<typeof hookFlags>;

/** True when at least one hook is enabled. */
export function anyHookEnabled(s: HookSettings): boolean {
  return (
    s.connect.mode !== "off" || s.join.rooms.length > 0 || s.send.rooms.length > 0 || s.rpc.methods.length > 0
  );
}

/** The hook settings of a parsed config; throws ConfigError when a hook is on without a usable URL. */
export function hookSettings(c: HookConfig): HookSettings {
  const s: HookSettings = {
    url: c.hooksUrl.replace(/\/+$/, ""),
    protocol: c.hooksProtocol,
    secret: c.hooksSecret,
    connect: {
      mode: c.hookConnect,
      timeoutMs: c.hookConnectTimeout,
      concurrency: c.hookConnectConcurrency,
      onFailure: c.hookConnectOnFailure,
    },
    join: {
      rooms: c.hookJoinRooms,
      timeoutMs: c.hookJoinTimeout,
      concurrency: c.hookJoinConcurrency,
      onFailure: c.hookJoinOnFailure,
    },
    send: {
      rooms: c.hookSendRooms,
      timeoutMs: c.hookSendTimeout,
      concurrency: c.hookSendConcurrency,
      onFailure: c.hookSendOnFailure,
    },
    rpc: {
      methods: c.hookRpcMethods,
      timeoutMs: c.hookRpcTimeout,
      concurrency: c.hookRpcConcurrency,
      onFailure: c.hookRpcOnFailure,
    },
  };
  if (anyHookEnabled(s)) {
    if (s.url === "")
      throw new ConfigError("hooks-url", "a hook is enabled: the hooks service URL is required");
    let u: URL;
    try {
      u = new URL(s.url);
    } catch {
      throw new ConfigError("hooks-url", `"${s.url}" is not a URL`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:")
      throw new ConfigError("hooks-url", "must be an http:// or https:// URL");
  }
  return s;
}
