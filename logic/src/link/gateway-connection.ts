import type * as http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Http2SessionManager } from "@connectrpc/connect-node";
import type {
  GatewayFrame,
  GatewayStatus,
  InterestDelta,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { LogicFrameSchema } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { Logger } from "../../../platform/logger.ts";
import { VERSION } from "../../../platform/version.ts";
import { backoffDelayMs } from "../../../protocol/backoff.ts";
import { PROTOCOL_VERSION, SECRET_HEADER } from "../../../protocol/push-stream/index.ts";
import type { GatewayEndpoint } from "../discovery/discovery.ts";
import type { EventSink, GatewayRef } from "../gateway-fleet.ts";
import type { ResolvedFleetOptions } from "./fleet-options.ts";
import { decodeGatewayFrame, logicFrameEnvelope } from "./frame-codec.ts";
import type { GatewayConnector } from "./gateway-connector.ts";
import { OutboundQueue } from "./outbound-queue.ts";
import type { PrincipalMemo } from "./principal-memo.ts";
import type { PushMetrics, ResetReason } from "./push-metrics.ts";
import { runStreamCall } from "./stream-call.ts";

/** A stream that lived this long resets the reconnect backoff. */
const STABLE_STREAM_MS = 5000;

/**
 * States of one gateway connection:
 * - "connecting": a stream is being opened; waiting for the GatewayHello.
 * - "ready": hello received; deliveries flow.
 * - "backoff": the last stream ended; a reconnect is scheduled.
 * - "closed": discovery removed the gateway or the fleet stopped; final.
 */
export type ConnectionState = "connecting" | "ready" | "backoff" | "closed";

/** What a connection asks of its fleet. */
export interface ConnectionHost {
  readonly opts: ResolvedFleetOptions;
  /** Opens the TCP or TLS socket of a gateway's HTTP/2 session. */
  readonly connector: GatewayConnector;
  readonly metrics: PushMetrics;
  readonly sink: EventSink;
  /** Decoded principals shared by every gateway's events. */
  readonly principals: PrincipalMemo;
  onReady(conn: GatewayConnection, previousEpoch: string | undefined): void;
  onDown(conn: GatewayConnection): void;
  onSnapshot(conn: GatewayConnection, rooms: readonly string[]): void;
  onDelta(conn: GatewayConnection, delta: InterestDelta): void;
}

/** One gateway: its HTTP/2 session, its current stream, its bounded queue. */
export class GatewayConnection {
  readonly endpoint: GatewayEndpoint;
  readonly queue: OutboundQueue;
  /** Rooms this gateway has members in, as of its last snapshot and deltas. */
  readonly rooms = new Set<string>();
  interestVersion = 0n;
  state: ConnectionState = "backoff";
  /** Set by the first hello; a later hello with another epoch means a restarted process. */
  gatewayId: string | undefined;
  epoch: string | undefined;
  draining = false;
  /** The gateway's software version, from its hello. */
  version = "";
  /** The gateway's last GatewayStatus on the current stream (connections, rooms, logic peers). */
  status: GatewayStatus | undefined;
  ref: GatewayRef | undefined;
  readonly #host: ConnectionHost;
  readonly #log: Logger;
  readonly #sessions: Http2SessionManager;
  /** Which of opts.secrets this gateway is sent; moves to the next one when it refuses. */
  #secretIndex = 0;
  #abort: AbortController | undefined;
  #resetReason: ResetReason | undefined;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #readyAt = 0;
  #lastReceivedAt = 0;
  #lastPingAt = 0;
  #pingNonce = 0n;
  #pingSentAt = 0;
  #snapshotSeen = false;
  #running = false;
  #abortSession = false;
  #attempted = false;

  constructor(endpoint: GatewayEndpoint, host: ConnectionHost, log: Logger) {
    this.endpoint = endpoint;
    this.#host = host;
    this.#log = log.child({ gateway: endpoint.id });
    const o = host.opts;
    this.queue = new OutboundQueue(o.queue);
    const baseUrl = toBaseUrl(endpoint.address, o.tls !== undefined);
    const nodeOptions: http2.SecureClientSessionOptions = {
      // Frames are already coalesced by the batcher; Nagle would hold small
      // ones back for a delayed ACK (tens of milliseconds on loopback).
      createConnection: (authority: URL) => host.connector.connect(authority),
      settings: { initialWindowSize: o.http2.initialWindowSize, maxFrameSize: o.http2.maxFrameSize },
      maxSessionMemory: o.http2.maxSessionMemoryMb,
    };
    // One session per gateway; connect-node PINGs it while the stream is open,
    // so a dead TCP connection is noticed even when no frame is due. Not
    // pingIdleConnection: connect-node 2.2 then re-arms a PING on a session it
    // already destroyed (ERR_HTTP2_INVALID_SESSION as an uncaught exception).
    this.#sessions = new Http2SessionManager(
      baseUrl,
      { pingIntervalMs: o.pingIntervalMs, pingTimeoutMs: o.deadAfterMs },
      nodeOptions,
    );
    const frames = host.metrics.batchesSent;
    const deliveryFrames = frames.labels({ kind: "deliveries" });
    const replyFrames = frames.labels({ kind: "replies" });
    const deliveries = host.metrics.messagesSent.labels({ kind: "deliveries" });
    const replies = host.metrics.messagesSent.labels({ kind: "replies" });
    const batchSize = host.metrics.batchSize;
    this.queue.onFrame = (kind, n) => {
      if (kind === "deliveries") {
        deliveryFrames.inc();
        deliveries.inc(n);
      } else {
        replyFrames.inc();
        replies.inc(n);
      }
      batchSize.observe(n);
    };
  }

  start(): void {
    this.#connect();
  }

  /** True once a first stream got the gateway's hello or ended (connected or failed). */
  get attempted(): boolean {
    return this.#attempted;
  }

  /** Closes for good: aborts the stream and the session; the caller drops the queue. */
  close(): void {
    if (this.state === "closed") return;
    const wasReady = this.state === "ready";
    this.state = "closed";
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#running) {
      // The read loop ends, then #ended() closes the session: closing it first
      // would reset the stream of a destroyed session.
      this.#abortSession = true;
      this.#abort?.abort();
    } else {
      this.#sessions.abort();
    }
    if (wasReady) this.#host.onDown(this);
  }

  /** Ends the current stream on purpose; the read loop schedules the reconnect. */
  reset(reason: ResetReason, hung: boolean): void {
    if (this.state !== "connecting" && this.state !== "ready") return;
    this.#resetReason = reason;
    // A peer that stopped answering leaves the HTTP/2 session hung; start afresh.
    this.#abortSession ||= hung;
    this.#log.warn({ reason }, "resetting gateway stream");
    this.#abort?.abort();
  }

  /** Periodic duties, driven by the fleet's timer: pings and liveness checks. */
  tick(now: number): void {
    const o = this.#host.opts;
    if (this.state === "connecting" && now - this.#startedAt > o.helloTimeoutMs) {
      this.reset("hello_timeout", true);
      return;
    }
    if (this.state !== "ready") return;
    if (now - this.#lastReceivedAt > o.deadAfterMs) {
      this.reset("ping_timeout", true);
      return;
    }
    if (this.queue.overflowSince !== 0 && now - this.queue.overflowSince > o.overflowResetMs) {
      this.reset("overflow", false);
      return;
    }
    if (now - this.#lastPingAt >= o.pingIntervalMs) {
      this.#lastPingAt = now;
      if (this.#pingSentAt === 0) {
        this.#pingNonce++;
        this.#pingSentAt = now;
        this.#pushControl(logicFrameEnvelope(ping(this.#pingNonce)));
      }
    }
  }

  /** A control frame ahead of the batches; one the queue has no room for is dropped and counted. */
  #pushControl(frame: Uint8Array): void {
    if (!this.queue.pushControl(frame)) this.#host.metrics.drops.inc({ reason: "control_full" });
  }

  async #connect(): Promise<void> {
    const o = this.#host.opts;
    const ac = new AbortController();
    this.#abort = ac;
    this.#resetReason = undefined;
    this.#snapshotSeen = false;
    this.#pingSentAt = 0;
    this.state = "connecting";
    this.#startedAt = performance.now();
    // Queued entries were meant for the epoch of the last hello; this stream
    // may reach a restarted process. They wait for this stream's hello.
    this.queue.hold();
    this.#pushControl(
      logicFrameEnvelope(
        create(LogicFrameSchema, {
          kind: {
            case: "hello",
            value: {
              logicId: o.logicId,
              epoch: o.epoch,
              protocolVersion: PROTOCOL_VERSION,
              version: VERSION,
            },
          },
        }),
      ),
    );
    let error: unknown;
    this.#running = true;
    try {
      await runStreamCall({
        sessions: this.#sessions,
        headers: this.#secretHeader(),
        queue: this.queue,
        maxInboundBytes: o.maxInboundFrameBytes,
        signal: ac.signal,
        onMessage: (frame) => {
          this.#lastReceivedAt = performance.now();
          this.#onFrame(decodeGatewayFrame(frame, this.#host.principals));
        },
      });
    } catch (err) {
      error = err;
    }
    this.#ended(error);
  }

  #ended(error: unknown): void {
    this.#running = false;
    this.#attempted = true;
    if (this.#abortSession) {
      this.#abortSession = false;
      this.#sessions.abort();
    }
    const wasReady = this.state === "ready";
    const { unacked } = this.queue.resetStream();
    if (unacked > 0) this.#host.metrics.drops.inc({ reason: "stream_reset" }, unacked);
    if (this.state === "closed") return;
    const refused = error instanceof ConnectError && error.code === Code.Unauthenticated;
    const reason: ResetReason =
      this.#resetReason ??
      (refused ? "unauthenticated" : error === undefined ? "stream_ended" : "stream_error");
    const secrets = this.#host.opts.secrets;
    if (refused && secrets.length > 1) {
      // During a rotation a gateway started before it knows only the previous secret (and one started
      // after it knows both): try the other one at the next attempt.
      this.#secretIndex = (this.#secretIndex + 1) % secrets.length;
      this.#log.warn(
        { secret: this.#secretIndex === 0 ? "current" : "previous" },
        "gateway refused the internal secret; presenting the other one next",
      );
    }
    if (reason === "overflow") {
      const n = this.queue.clear();
      if (n > 0) this.#host.metrics.drops.inc({ reason: "stream_reset" }, n);
    }
    if (wasReady) {
      this.state = "backoff";
      this.#host.onDown(this);
      if (performance.now() - this.#readyAt >= STABLE_STREAM_MS) this.#attempt = 0;
    }
    this.state = "backoff";
    this.#host.metrics.reconnects.inc({ reason });
    const o = this.#host.opts;
    const delay = backoffDelayMs(this.#attempt++, o.reconnect);
    this.#log.info(
      { reason, delayMs: delay, err: error instanceof Error ? error.message : undefined },
      "gateway stream ended; reconnecting",
    );
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.state === "backoff") this.#connect();
    }, delay);
  }

  #secretHeader(): Record<string, string> {
    const secret = this.#host.opts.secrets[this.#secretIndex];
    return secret === undefined ? {} : { [SECRET_HEADER]: secret };
  }

  #onFrame(kind: GatewayFrame["kind"]): void {
    if (this.state === "connecting" && kind.case !== "hello") {
      this.reset("protocol", false);
      return;
    }
    switch (kind.case) {
      case "hello": {
        const h = kind.value;
        if (this.state === "ready") {
          // A later hello only updates draining; identity cannot change mid-stream.
          if (h.gatewayId === this.gatewayId && h.epoch === this.epoch) this.draining = h.draining;
          else this.reset("protocol", false);
          return;
        }
        const expected = this.endpoint.gatewayId;
        if (expected !== undefined && h.gatewayId !== expected) {
          // The pod's IP now belongs to another gateway (or a stale slice): its
          // replies and interest must never be filed under the wrong gateway.
          this.#log.warn(
            { expected, answered: h.gatewayId },
            "another gateway answered at this endpoint's address",
          );
          this.reset("protocol", false);
          return;
        }
        if (h.protocolVersion !== PROTOCOL_VERSION) {
          this.#log.error({ version: h.protocolVersion }, "gateway speaks another protocol version");
          this.reset("protocol", false);
          return;
        }
        const previousEpoch = this.epoch;
        this.gatewayId = h.gatewayId;
        this.epoch = h.epoch;
        this.ref = { id: h.gatewayId, epoch: h.epoch };
        this.draining = h.draining;
        this.version = h.version;
        this.status = undefined;
        this.state = "ready";
        this.#attempted = true;
        this.#readyAt = performance.now();
        this.#lastPingAt = this.#readyAt;
        this.#host.onReady(this, previousEpoch);
        this.queue.release();
        return;
      }
      case "interestSnapshot":
        this.#snapshotSeen = true;
        this.interestVersion = kind.value.version;
        this.#host.onSnapshot(this, kind.value.rooms);
        return;
      case "interestDelta":
        if (!this.#snapshotSeen || kind.value.version !== this.interestVersion + 1n) {
          // A gap in versions: our view may be wrong. A new stream brings a fresh snapshot.
          this.reset("protocol", false);
          return;
        }
        this.interestVersion = kind.value.version;
        this.#host.onDelta(this, kind.value);
        return;
      case "events":
        if (this.ref !== undefined && kind.value.events.length > 0) {
          this.#host.metrics.eventsReceived.inc(kind.value.events.length);
          this.#host.sink.onEvents(this.ref, kind.value.events);
        }
        return;
      case "deliveryAck":
        this.queue.ack(Number(kind.value.throughBatchSeq));
        return;
      case "status":
        this.status = kind.value;
        return;
      case "ping":
        this.#pushControl(
          logicFrameEnvelope(
            create(LogicFrameSchema, { kind: { case: "pong", value: { nonce: kind.value.nonce } } }),
          ),
        );
        return;
      case "pong":
        if (this.#pingSentAt !== 0 && kind.value.nonce === this.#pingNonce) {
          this.#host.metrics.rtt.observe((performance.now() - this.#pingSentAt) / 1000);
          this.#pingSentAt = 0;
        }
        return;
      default:
        return;
    }
  }
}

function ping(nonce: bigint) {
  return create(LogicFrameSchema, { kind: { case: "ping", value: { nonce } } });
}

/** host:port becomes http(s)://host:port; a URL is kept as it is. */
export function toBaseUrl(address: string, tls: boolean): string {
  if (/^https?:\/\//.test(address)) return address.replace(/\/$/, "");
  return `${tls ? "https" : "http"}://${address}`;
}
