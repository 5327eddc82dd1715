import { ConfigError } from "../../platform/config-error.ts";
import {
  addressFlag,
  boolFlag,
  durationFlag,
  enumFlag,
  type FlagValues,
  intFlag,
  stringFlag,
} from "../../platform/flags.ts";
import {
  checkTlsFiles,
  insecureInternalFlag,
  requireProtectedInternalLink,
  tlsReloadIntervalFlag,
} from "../../platform/internal-link-flags.ts";
import { LOG_LEVELS, type LogLevel } from "../../platform/logger.ts";
import type { EdgeLimits } from "./edge/edge-limits.ts";
import { DEFAULT_EDGE_LIMITS } from "./edge/edge-limits.ts";
import type { InternalTlsServerOptions } from "./link/internal-tls-server.ts";

/**
 * The gateway's flags (each with its CHATCLUSTER_* twin). Parsed once by the
 * CLI; the composition root turns them into component options with
 * edgeLimitsFrom() and resolveGatewayId().
 */
const d = DEFAULT_EDGE_LIMITS;
export const gatewayFlags = {
  logLevel: enumFlag<LogLevel>("CHATCLUSTER_LOG_LEVEL", "info", "Log level.", LOG_LEVELS),
  clientListen: addressFlag(
    "CHATCLUSTER_CLIENT_LISTEN",
    "0.0.0.0:8080",
    "Where clients connect (WebSocket, subprotocol chatcluster.v1).",
  ),
  internalListen: addressFlag(
    "CHATCLUSTER_INTERNAL_LISTEN",
    "0.0.0.0:9090",
    "Where logic processes open the push stream (gRPC over HTTP/2).",
  ),
  opsListen: addressFlag("CHATCLUSTER_OPS_LISTEN", "0.0.0.0:9102", "/healthz, /readyz and /metrics."),
  gatewayId: stringFlag(
    "CHATCLUSTER_GATEWAY_ID",
    "",
    "Stable name of this gateway (the StatefulSet pod name). Empty means $HOSTNAME.",
  ),
  internalSecret: stringFlag(
    "CHATCLUSTER_INTERNAL_SECRET",
    "",
    "Shared secret logic must present on the push stream: a second factor next to its client certificate.",
  ),
  internalSecretPrevious: stringFlag(
    "CHATCLUSTER_INTERNAL_SECRET_PREVIOUS",
    "",
    "A previous shared secret, still accepted while it is being rotated out (logic processes started before the rotation present it).",
  ),
  internalTlsCert: stringFlag(
    "CHATCLUSTER_INTERNAL_TLS_CERT",
    "",
    "PEM certificate (chain) the internal port serves; re-read when it changes.",
    "a file path",
  ),
  internalTlsKey: stringFlag(
    "CHATCLUSTER_INTERNAL_TLS_KEY",
    "",
    "PEM private key of that certificate.",
    "a file path",
  ),
  internalTlsCa: stringFlag(
    "CHATCLUSTER_INTERNAL_TLS_CA",
    "",
    "PEM CA bundle logic's client certificates must chain to; set, logic must present one (mTLS).",
    "a file path",
  ),
  internalTlsClientName: stringFlag(
    "CHATCLUSTER_INTERNAL_TLS_CLIENT_NAME",
    "",
    "Name (DNS subjectAltName) logic's client certificate must carry, e.g. logic.<namespace>.<chatcluster>.chatcluster.internal; empty: any certificate the CA signed.",
    "a DNS name",
  ),
  internalTlsReloadInterval: tlsReloadIntervalFlag,
  insecureInternal: insecureInternalFlag,
  maxConnections: intFlag(
    "CHATCLUSTER_MAX_CONNECTIONS",
    d.maxConnections,
    "Client WebSockets per process; more are refused with HTTP 503 (keep below the fd limit).",
    1,
    1_000_000,
  ),
  maxPendingAuth: intFlag(
    "CHATCLUSTER_MAX_PENDING_AUTH",
    d.maxPendingAuth,
    "Connections waiting for an auth answer; more are refused with HTTP 503.",
    1,
    1_000_000,
  ),
  authTimeout: durationFlag(
    "CHATCLUSTER_AUTH_TIMEOUT",
    d.authTimeoutMs,
    "Close (4004 auth_timeout) a connection not authenticated within this time.",
    100,
    300_000,
  ),
  admissionRate: intFlag(
    "CHATCLUSTER_ADMISSION_RATE",
    d.admissionPerSecond,
    "New WebSocket upgrades per second; more are refused with HTTP 503 and Retry-After.",
    1,
    1_000_000,
  ),
  admissionBurst: intFlag(
    "CHATCLUSTER_ADMISSION_BURST",
    d.admissionBurst,
    "Upgrades accepted in a burst above the admission rate.",
    1,
    1_000_000,
  ),
  listenBacklog: intFlag(
    "CHATCLUSTER_LISTEN_BACKLOG",
    d.listenBacklog,
    "Accept queue of the client port (capped by the kernel's net.core.somaxconn); sized for connect storms.",
    1,
    65_535,
  ),
  maxFrameBytes: intFlag(
    "CHATCLUSTER_MAX_FRAME_BYTES",
    d.maxFrameBytes,
    "Largest client frame; larger ones close the socket with 1009.",
    256,
    16 * 1024 * 1024,
  ),
  messagesPerSecond: intFlag(
    "CHATCLUSTER_MESSAGES_PER_SECOND",
    d.messagesPerSecond,
    "Sustained client frames per second per connection.",
    1,
    100_000,
  ),
  messageBurst: intFlag(
    "CHATCLUSTER_MESSAGE_BURST",
    d.messageBurst,
    "Client frames per connection allowed in a burst.",
    1,
    100_000,
  ),
  rateStrikes: intFlag(
    "CHATCLUSTER_RATE_STRIKES",
    d.rateStrikes,
    "Over-rate frames within 10s that close the socket with 4008 rate_limited.",
    1,
    100_000,
  ),
  signalsPerSecond: intFlag(
    "CHATCLUSTER_SIGNALS_PER_SECOND",
    d.signalsPerSecond,
    "Sustained signal frames (typing, ...) per second per connection.",
    1,
    100_000,
  ),
  signalBurst: intFlag(
    "CHATCLUSTER_SIGNAL_BURST",
    d.signalBurst,
    "Signal frames per connection allowed in a burst.",
    1,
    100_000,
  ),
  presenceGrace: durationFlag(
    "CHATCLUSTER_PRESENCE_GRACE",
    d.presenceGraceMs,
    "A user's departure from a room is reported this long after their last connection left, unless they rejoin.",
    1,
    600_000,
  ),
  presenceLeaseInterval: durationFlag(
    "CHATCLUSTER_PRESENCE_LEASE_INTERVAL",
    d.presenceLeaseMs,
    "Presence lease renewal interval; logic expires a crashed gateway's presence after 3 intervals.",
    100,
    600_000,
  ),
  maxRoomsPerConnection: intFlag(
    "CHATCLUSTER_MAX_ROOMS_PER_CONNECTION",
    d.maxRoomsPerConnection,
    "Rooms one connection may have joined at once.",
    1,
    100_000,
  ),
  sendQueueBytes: intFlag(
    "CHATCLUSTER_SEND_QUEUE_BYTES",
    d.sendQueueBytes,
    "Bytes queued for one client before it is closed with 4009 slow_consumer.",
    4096,
    1024 * 1024 * 1024,
  ),
  sendBudgetBytes: intFlag(
    "CHATCLUSTER_SEND_BUDGET_BYTES",
    0,
    "Bytes queued for all clients together; above it the clients furthest behind are closed with 4009 slow_consumer until the rest hold 90 % of it. 0 means a quarter of the V8 heap limit (Node sizes it from the memory it sees; set --max-old-space-size or this flag to match the container's limit).",
    0,
    1024 * 1024 * 1024 * 1024,
  ),
  maxPendingEvents: intFlag(
    "CHATCLUSTER_MAX_PENDING_EVENTS",
    10_000,
    "Client events handed to logic and not yet answered; more are refused with a retryable error (unavailable, or 4013 for an auth).",
    1,
    10_000_000,
  ),
  maxPendingEventBytes: intFlag(
    "CHATCLUSTER_MAX_PENDING_EVENT_BYTES",
    64 * 1024 * 1024,
    "The same bound in bytes (a send counts its body).",
    64 * 1024,
    1024 * 1024 * 1024 * 1024,
  ),
  pendingEventTimeout: durationFlag(
    "CHATCLUSTER_PENDING_EVENT_TIMEOUT",
    10_000,
    "A client event logic has not answered in this time is given up: the client gets a retryable error (4013 for an auth).",
    100,
    600_000,
  ),
  heartbeatInterval: durationFlag(
    "CHATCLUSTER_HEARTBEAT_INTERVAL",
    d.heartbeatMs,
    "Ping sweep interval; a client silent for a whole interval is disconnected.",
    100,
    600_000,
  ),
  drainWindow: durationFlag(
    "CHATCLUSTER_DRAIN_WINDOW",
    20_000,
    "On SIGTERM, clients are told to reconnect at times spread over this window.",
    0,
    3_600_000,
  ),
  shutdownGrace: durationFlag(
    "CHATCLUSTER_SHUTDOWN_GRACE",
    30_000,
    "Hard deadline for shutdown (match terminationGracePeriodSeconds); must exceed the drain window + 5s.",
    1000,
    3_600_000,
  ),
  perMessageDeflate: boolFlag(
    "CHATCLUSTER_PER_MESSAGE_DEFLATE",
    false,
    "Accept compressed client frames (server frames are never compressed).",
  ),
  allowTokenInUrl: boolFlag(
    "CHATCLUSTER_ALLOW_TOKEN_IN_URL",
    false,
    "Accept the token as ?token= on the WebSocket URL. Off, such connections are closed with 4001: URLs end up in ingress and access logs.",
  ),
} as const;

export type GatewayConfig = FlagValues<typeof gatewayFlags>;

/**
 * Checks what single flags cannot: the TLS flags' combinations and files, and
 * that the internal port has TLS or the shared secret at least, unless
 * --insecure-internal waives it. Throws ConfigError.
 */
export function validateGatewayConfig(c: GatewayConfig): void {
  if ((c.internalTlsCert === "") !== (c.internalTlsKey === ""))
    throw new ConfigError("internal-tls-key", "--internal-tls-cert and --internal-tls-key go together");
  if (c.internalTlsCa !== "" && c.internalTlsCert === "")
    throw new ConfigError("internal-tls-ca", "needs --internal-tls-cert and --internal-tls-key");
  if (c.internalTlsClientName !== "" && c.internalTlsCa === "")
    throw new ConfigError(
      "internal-tls-client-name",
      "needs --internal-tls-ca (the CA of logic's certificates)",
    );
  requireProtectedInternalLink(
    { tls: c.internalTlsCert !== "", secret: c.internalSecret !== "" },
    "--internal-tls-cert, --internal-tls-key, --internal-tls-ca",
    c.insecureInternal,
  );
  if (c.internalTlsCert !== "") {
    checkTlsFiles("internal-tls-cert", {
      certFile: c.internalTlsCert,
      keyFile: c.internalTlsKey,
      caFile: c.internalTlsCa || undefined,
    });
  }
}

/** What the internal port lacks of TLS with client certificates and the shared secret (empty: nothing), for a startup warning. */
export function internalLinkGaps(c: GatewayConfig): string[] {
  const gaps: string[] = [];
  if (c.internalTlsCert === "") gaps.push("TLS (--internal-tls-cert, --internal-tls-key, --internal-tls-ca)");
  else if (c.internalTlsCa === "") gaps.push("client certificates (--internal-tls-ca)");
  if (c.internalSecret === "") gaps.push("a shared secret (--internal-secret)");
  return gaps;
}

/** The push-stream server's TLS options from the parsed flags (undefined: h2c). */
export function internalTlsFrom(c: GatewayConfig): InternalTlsServerOptions | undefined {
  if (c.internalTlsCert === "") return undefined;
  return {
    certFile: c.internalTlsCert,
    keyFile: c.internalTlsKey,
    caFile: c.internalTlsCa || undefined,
    clientName: c.internalTlsClientName || undefined,
    reloadIntervalMs: c.internalTlsReloadInterval,
  };
}

/** Fraction of the V8 heap limit the send budget defaults to. */
export const SEND_BUDGET_HEAP_FRACTION = 0.25;

/**
 * The edge's limits from the parsed flags. `heapLimitBytes`
 * (v8.getHeapStatistics().heap_size_limit) sizes the send budget when the
 * flag leaves it at 0.
 */
export function edgeLimitsFrom(config: GatewayConfig, heapLimitBytes: number): Partial<EdgeLimits> {
  return {
    sendBudgetBytes: config.sendBudgetBytes || Math.floor(heapLimitBytes * SEND_BUDGET_HEAP_FRACTION),
    maxConnections: config.maxConnections,
    maxPendingAuth: config.maxPendingAuth,
    authTimeoutMs: config.authTimeout,
    admissionPerSecond: config.admissionRate,
    listenBacklog: config.listenBacklog,
    admissionBurst: config.admissionBurst,
    maxFrameBytes: config.maxFrameBytes,
    messagesPerSecond: config.messagesPerSecond,
    messageBurst: config.messageBurst,
    rateStrikes: config.rateStrikes,
    signalsPerSecond: config.signalsPerSecond,
    signalBurst: config.signalBurst,
    presenceGraceMs: config.presenceGrace,
    presenceLeaseMs: config.presenceLeaseInterval,
    maxRoomsPerConnection: config.maxRoomsPerConnection,
    sendQueueBytes: config.sendQueueBytes,
    heartbeatMs: config.heartbeatInterval,
    perMessageDeflate: config.perMessageDeflate,
    allowTokenInUrl: config.allowTokenInUrl,
  };
}

/** The push-stream server's bounds on unanswered events from the parsed flags. */
export function pendingEventLimitsFrom(config: GatewayConfig): {
  maxPendingEvents: number;
  maxPendingEventBytes: number;
  pendingEventTimeoutMs: number;
} {
  return {
    maxPendingEvents: config.maxPendingEvents,
    maxPendingEventBytes: config.maxPendingEventBytes,
    pendingEventTimeoutMs: config.pendingEventTimeout,
  };
}

/** The configured id, else the pod's hostname (the StatefulSet pod name), else "gateway". */
export function resolveGatewayId(
  config: GatewayConfig,
  env: Readonly<Record<string, string | undefined>>,
): string {
  return config.gatewayId || env.HOSTNAME || "gateway";
}

/** Drain window clamped so drain (window + close grace) ends before the hard shutdown deadline. */
export function effectiveDrainWindowMs(
  config: GatewayConfig,
  closeGraceMs = DEFAULT_EDGE_LIMITS.closeGraceMs,
): number {
  return Math.max(0, Math.min(config.drainWindow, config.shutdownGrace - closeGraceMs - 2000));
}
