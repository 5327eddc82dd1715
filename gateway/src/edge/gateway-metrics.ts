import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { CLOSE_CODE_NAMES } from "../../../protocol/close-codes.ts";

/** Reasons an upgrade is refused before it becomes a WebSocket. */
export const ADMISSION_REFUSAL_REASONS = [
  "draining",
  "max_connections",
  "pending_auth",
  "rate",
  "bad_request",
] as const;
export type AdmissionRefusalReason = (typeof ADMISSION_REFUSAL_REASONS)[number];

/** Frames the edge did not write, by why. */
export const DROP_REASONS = ["join_buffer_full", "no_local_members", "unexpected_auth_reply"] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export const INBOUND_FRAME_TYPES = [
  "auth",
  "join",
  "leave",
  "send",
  "ping",
  "presence",
  "signal",
  "read",
  "reads",
  "call",
  "edit",
  "delete",
  "invalid",
] as const;
export type InboundFrameType = (typeof INBOUND_FRAME_TYPES)[number];

/** What the server API can have a gateway do to a user's connections. */
export const CONNECTION_COMMANDS = ["subscribe", "unsubscribe", "disconnect"] as const;
export type ConnectionCommandKind = (typeof CONNECTION_COMMANDS)[number];

export interface QueueStats {
  sumBytes: number;
  maxBytes: number;
}

export interface GatewayMetrics {
  readonly connections: Gauge;
  readonly pendingAuth: Gauge;
  readonly connects: Counter;
  readonly disconnects: Counter<"code">;
  readonly framesIn: Counter<"type">;
  /** framesIn's child of each INBOUND_FRAME_TYPES value, looked up once rather than hashed per frame. */
  readonly framesInByType: ReadonlyMap<string, Counter.Internal>;
  readonly bytesIn: Counter;
  readonly framesOut: Counter;
  readonly bytesOut: Counter;
  readonly slowConsumerCloses: Counter;
  readonly sendBudgetCloses: Counter;
  readonly sendBudget: Gauge;
  readonly rateLimitedFrames: Counter;
  readonly admissionRefusals: Counter<"reason">;
  readonly drops: Counter<"reason">;
  readonly commands: Counter<"command">;
  readonly logicRefusals: Counter;
  readonly roomsRevoked: Counter;
  readonly urlTokensRefused: Counter;
  readonly drainRemaining: Gauge;
  readonly deliveryLatency: Histogram;
  /** Set by the edge: read at scrape time so the hot path does no metric work for queues. */
  queueProbe: (() => QueueStats) | null;
}

export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  const registers = [registry];
  const byType = new Map<string, Counter.Internal>();
  const m: GatewayMetrics = {
    queueProbe: null,
    connections: new Gauge({
      name: "chatcluster_gateway_connections",
      help: "Open client WebSockets (authenticated or waiting for auth).",
      registers,
    }),
    pendingAuth: new Gauge({
      name: "chatcluster_gateway_pending_auth_connections",
      help: "Client WebSockets waiting for logic's answer to their auth.",
      registers,
    }),
    connects: new Counter({
      name: "chatcluster_gateway_connects_total",
      help: "WebSocket upgrades accepted.",
      registers,
    }),
    disconnects: new Counter({
      name: "chatcluster_gateway_disconnects_total",
      help: "Closed client WebSockets by close code name (protocol/close-codes.ts).",
      labelNames: ["code"] as const,
      registers,
    }),
    framesIn: new Counter({
      name: "chatcluster_gateway_frames_in_total",
      help: "Client frames received, by type.",
      labelNames: ["type"] as const,
      registers,
    }),
    framesInByType: byType,
    bytesIn: new Counter({
      name: "chatcluster_gateway_bytes_in_total",
      help: "Client frame payload bytes received.",
      registers,
    }),
    framesOut: new Counter({
      name: "chatcluster_gateway_frames_out_total",
      help: "Frames written to client sockets (one per recipient).",
      registers,
    }),
    bytesOut: new Counter({
      name: "chatcluster_gateway_bytes_out_total",
      help: "Bytes written to client sockets, WebSocket framing included.",
      registers,
    }),
    slowConsumerCloses: new Counter({
      name: "chatcluster_gateway_slow_consumer_closes_total",
      help: "Sockets closed because their send queue exceeded its bound.",
      registers,
    }),
    sendBudgetCloses: new Counter({
      name: "chatcluster_gateway_send_budget_closes_total",
      help: "Sockets closed as slow consumers because the bytes queued for all sockets together exceeded the send budget (those furthest behind first).",
      registers,
    }),
    sendBudget: new Gauge({
      name: "chatcluster_gateway_send_budget_bytes",
      help: "The send budget: bytes the gateway holds for all client sockets together before it sheds the slowest.",
      registers,
    }),
    rateLimitedFrames: new Counter({
      name: "chatcluster_gateway_rate_limited_frames_total",
      help: "Client frames rejected by the per-connection rate limit.",
      registers,
    }),
    admissionRefusals: new Counter({
      name: "chatcluster_gateway_admission_refusals_total",
      help: "Upgrades refused before becoming a WebSocket, by reason.",
      labelNames: ["reason"] as const,
      registers,
    }),
    drops: new Counter({
      name: "chatcluster_gateway_dropped_frames_total",
      help: "Frames for clients that were not written, by reason.",
      labelNames: ["reason"] as const,
      registers,
    }),
    commands: new Counter({
      name: "chatcluster_gateway_connection_commands_total",
      help: "Connections a server API command acted on, by command (subscribe, unsubscribe, disconnect).",
      labelNames: ["command"] as const,
      registers,
    }),
    logicRefusals: new Counter({
      name: "chatcluster_gateway_logic_refusals_total",
      help: "Client events the logic link could not accept (answered with a retryable error).",
      registers,
    }),
    roomsRevoked: new Counter({
      name: "chatcluster_gateway_rooms_revoked_total",
      help: "Memberships ended because the connection's token no longer grants read access to the room (after a token refresh); each client got a `left` frame.",
      registers,
    }),
    urlTokensRefused: new Counter({
      name: "chatcluster_gateway_url_tokens_refused_total",
      help: "Connections closed with 4001 because their upgrade URL carried a token (allowed only with --allow-token-in-url).",
      registers,
    }),
    drainRemaining: new Gauge({
      name: "chatcluster_gateway_drain_remaining_connections",
      help: "Connections still open during a drain (0 when not draining).",
      registers,
    }),
    deliveryLatency: new Histogram({
      name: "chatcluster_gateway_delivery_latency_seconds",
      help: "From logic accepting a message (before the store) to this gateway handing it to its sockets; one observation per message, not per recipient. Compares two hosts' clocks.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
  };
  new Gauge({
    name: "chatcluster_gateway_send_queue_bytes",
    help: "Bytes queued for client sockets at scrape time: the sum over sockets and the largest one.",
    labelNames: ["stat"] as const,
    registers,
    collect() {
      const s = m.queueProbe?.() ?? { sumBytes: 0, maxBytes: 0 };
      this.set({ stat: "sum" }, s.sumBytes);
      this.set({ stat: "max" }, s.maxBytes);
    },
  });
  for (const code of CLOSE_CODE_NAMES) m.disconnects.inc({ code }, 0);
  for (const type of INBOUND_FRAME_TYPES) {
    m.framesIn.inc({ type }, 0);
    byType.set(type, m.framesIn.labels({ type }));
  }
  for (const reason of ADMISSION_REFUSAL_REASONS) m.admissionRefusals.inc({ reason }, 0);
  for (const reason of DROP_REASONS) m.drops.inc({ reason }, 0);
  for (const command of CONNECTION_COMMANDS) m.commands.inc({ command }, 0);
  return m;
}
