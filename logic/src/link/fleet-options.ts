import type { Registry } from "prom-client";
import type { Logger } from "../../../platform/logger.ts";
import type { BackoffOptions } from "../../../protocol/backoff.ts";
import type { Discovery } from "../discovery/discovery.ts";
import type { EventSink } from "../gateway-fleet.ts";
import type { GatewayTlsOptions } from "./gateway-connector.ts";
import type { QueueLimits } from "./outbound-queue.ts";

/** Options of createGatewayFleet. Only the first six are required. */
export interface GatewayFleetOptions {
  /** Where gateways come from (static list, file, EndpointSlices). */
  discovery: Discovery;
  /** Stable name of this logic process (the pod name), sent in LogicHello. */
  logicId: string;
  /** Random per process start, sent in LogicHello. */
  epoch: string;
  /** Receives client events from every gateway. */
  sink: EventSink;
  /** Registry for chatcluster_logic_push_* metrics. */
  registry: Registry;
  log: Logger;
  /** Shared secret sent in the x-chatcluster-link-secret header; must match the gateways'. */
  secret?: string;
  /**
   * The secret before a rotation, sent to a gateway that refuses `secret` with
   * UNAUTHENTICATED (one started before the rotation). Default: none.
   */
  previousSecret?: string;
  /** Connect to gateways over TLS (addresses without a scheme become https://), optionally with a client certificate. */
  tls?: GatewayTlsOptions;
  /** Per-gateway bound on deliveries queued or in flight. Default 20,000. */
  maxQueueMessages?: number;
  /** Per-gateway bound on encoded bytes queued or in flight. Default 32 MiB (~27k deliveries of 1.2 KB). */
  maxQueueBytes?: number;
  /** Extra bytes replies may use beyond maxQueueBytes, so acks survive a delivery flood. Default maxQueueBytes / 4. */
  replyReserveBytes?: number;
  /** Most deliveries or replies in one frame. Default 512. */
  maxBatchMessages?: number;
  /**
   * Most bytes in one frame (soft: one entry may exceed it alone). Default
   * 480 KiB, the size measured best when frames still went through Connect;
   * the stream's frame buffer grows to the largest frame and is reused. Keep
   * it below the gateway's maxFrameBytes.
   */
  maxBatchBytes?: number;
  /** A gateway whose queue stays full this long gets its stream reset and its queue dropped. Default 10 s. */
  overflowResetMs?: number;
  /** Application Ping interval, also the HTTP/2 PING interval. Default 1 s. */
  pingIntervalMs?: number;
  /** A stream that received nothing (not even a Pong) for this long is reset. Default 4 s. */
  deadAfterMs?: number;
  /** A stream whose GatewayHello has not arrived after this long is reset. Default 5 s. */
  helloTimeoutMs?: number;
  /** stop() waits this long at most for open streams to flush their queues. Default 1 s. */
  stopDrainMs?: number;
  /** Reconnect backoff: full jitter over [0, min(max, base * 2^attempt)). Defaults 100 ms and 5 s. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** Largest GatewayFrame accepted (a bigger one ends the stream). Default 16 MiB: an InterestSnapshot lists every room of a gateway in one frame. */
  maxInboundFrameBytes?: number;
  /** HTTP/2 client settings; the defaults favour throughput on a LAN. */
  http2?: Partial<Http2ClientTuning>;
  /**
   * Most interest keys (rooms with local members, one `#user:` key per
   * connected user) one gateway may declare. A gateway past it gets its stream
   * reset (`protocol`) instead of growing logic's memory without bound.
   * Default 4,000,000: far beyond what one gateway process holds (20,000
   * sockets per process here, 100,000 on a large host, a few rooms each).
   */
  maxInterestPerGateway?: number;
}

export interface Http2ClientTuning {
  /** Per-stream receive window we advertise (gateway -> logic). Default 4 MiB. */
  initialWindowSize: number;
  /** Largest HTTP/2 DATA frame we accept. Default 64 KiB (fewer frames per batch than 16 KiB). */
  maxFrameSize: number;
  /** nghttp2 buffer cap for the session, in MB. Default 64. */
  maxSessionMemoryMb: number;
}

export interface ResolvedFleetOptions {
  readonly logicId: string;
  readonly epoch: string;
  /** The secrets to present, the current one first; empty: none (local runs). */
  readonly secrets: readonly string[];
  readonly tls: GatewayFleetOptions["tls"];
  readonly queue: QueueLimits;
  readonly overflowResetMs: number;
  readonly pingIntervalMs: number;
  readonly deadAfterMs: number;
  readonly helloTimeoutMs: number;
  readonly stopDrainMs: number;
  /** Reconnect backoff (full jitter). */
  readonly reconnect: Readonly<BackoffOptions>;
  readonly maxInboundFrameBytes: number;
  readonly maxInterestPerGateway: number;
  readonly http2: Http2ClientTuning;
}

const MiB = 1024 * 1024;

function positive(name: string, value: number | undefined, def: number): number {
  const v = value ?? def;
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`gateway fleet: ${name} must be > 0, got ${v}`);
  return v;
}

/** Validates once and fills defaults into a new frozen object (the caller's object is not touched). */
export function resolveFleetOptions(o: GatewayFleetOptions): ResolvedFleetOptions {
  if (o.logicId === "") throw new RangeError("gateway fleet: logicId must not be empty");
  if (o.epoch === "") throw new RangeError("gateway fleet: epoch must not be empty");
  const maxBytes = positive("maxQueueBytes", o.maxQueueBytes, 32 * MiB);
  const pingIntervalMs = positive("pingIntervalMs", o.pingIntervalMs, 1000);
  const deadAfterMs = positive("deadAfterMs", o.deadAfterMs, 4000);
  if (deadAfterMs <= pingIntervalMs) {
    throw new RangeError("gateway fleet: deadAfterMs must exceed pingIntervalMs");
  }
  return Object.freeze({
    logicId: o.logicId,
    epoch: o.epoch,
    secrets: Object.freeze(
      [o.secret, o.previousSecret].filter((x): x is string => x !== undefined && x !== ""),
    ),
    tls: o.tls,
    queue: Object.freeze({
      maxMessages: positive("maxQueueMessages", o.maxQueueMessages, 20_000),
      maxBytes,
      replyReserveBytes: positive("replyReserveBytes", o.replyReserveBytes, Math.floor(maxBytes / 4)),
      maxBatchMessages: positive("maxBatchMessages", o.maxBatchMessages, 512),
      maxBatchBytes: positive("maxBatchBytes", o.maxBatchBytes, 480 * 1024),
    }),
    overflowResetMs: positive("overflowResetMs", o.overflowResetMs, 10_000),
    pingIntervalMs,
    deadAfterMs,
    helloTimeoutMs: positive("helloTimeoutMs", o.helloTimeoutMs, 5000),
    stopDrainMs: Math.max(0, o.stopDrainMs ?? 1000),
    reconnect: Object.freeze({
      initialMs: positive("reconnectBaseMs", o.reconnectBaseMs, 100),
      maxMs: positive("reconnectMaxMs", o.reconnectMaxMs, 5000),
    }),
    maxInboundFrameBytes: positive("maxInboundFrameBytes", o.maxInboundFrameBytes, 16 * MiB),
    maxInterestPerGateway: positive("maxInterestPerGateway", o.maxInterestPerGateway, 4_000_000),
    http2: Object.freeze({
      initialWindowSize: positive("http2.initialWindowSize", o.http2?.initialWindowSize, 4 * MiB),
      maxFrameSize: positive("http2.maxFrameSize", o.http2?.maxFrameSize, 64 * 1024),
      maxSessionMemoryMb: positive("http2.maxSessionMemoryMb", o.http2?.maxSessionMemoryMb, 64),
    }),
  });
}
