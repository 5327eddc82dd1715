import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Counter } from "prom-client";
import {
  type ClientEvent,
  GatewayFrameSchema,
  type Reply,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { Logger } from "../../../platform/logger.ts";
import { VERSION } from "../../../platform/version.ts";
import { PROTOCOL_VERSION } from "../../../protocol/push-stream/index.ts";
import type { EdgeSink, LogicLink } from "../logic-link.ts";
import { encodeClientEvent } from "./event-encoder.ts";
import { decodeLogicFrame, deliveryAckFrame, gatewayFrameEnvelope } from "./frame-codec.ts";
import { InterestTracker } from "./interest-tracker.ts";
import { isLinkError, LinkError } from "./link-error.ts";
import type { GatewayLinkMetrics, StreamCloseReason } from "./link-metrics.ts";
import type { LogicCall } from "./logic-call.ts";
import { LogicStream } from "./logic-stream.ts";
import { rendezvousPick } from "./rendezvous.ts";

/** Memory of a pending event besides its encoding (its entry, the event object), counted with it. */
export const PENDING_OVERHEAD_BYTES = 96;
/** How often each logic stream gets a GatewayStatus (connections, rooms, logic peers) for Info. */
export const STATUS_INTERVAL_MS = 5000;

interface Pending {
  readonly event: ClientEvent;
  /** The event's bytes, encoded once: written to a stream, again to another on a resend. */
  readonly encoded: Uint8Array;
  readonly key: string;
  /** The encoding's length plus PENDING_OVERHEAD_BYTES, counted against maxPendingEventBytes. */
  readonly bytes: number;
  /** performance.now() after which the edge is told logic did not answer. */
  readonly deadline: number;
  stream: LogicStream | undefined;
}

export interface LinkCoreOptions {
  readonly gatewayId: string;
  readonly epoch: string;
  readonly sink: EdgeSink;
  readonly log: Logger;
  /** Events sent (or waiting for a stream) and not yet answered; send() refuses beyond it. */
  readonly maxPendingEvents: number;
  /** The same in bytes (each event's encoding and its bookkeeping). */
  readonly maxPendingEventBytes: number;
  /** An event unanswered this long is given up: the edge answers its client with a retryable error. */
  readonly pendingEventTimeoutMs: number;
  /** Bytes a stream may hold while logic does not read; beyond, the stream is ended (backlog_full). */
  readonly maxStreamBacklogBytes: number;
  readonly helloTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly deadAfterMs: number;
}

/**
 * The gateway's LogicLink: the set of logic streams, rendezvous routing of
 * events, the pending (unanswered) events and their resend, interest
 * publication, and the handling of each StreamMessages call.
 *
 * Work from one event-loop turn is flushed together on setImmediate: events
 * per stream, one interest delta for all streams, one DeliveryAck per stream.
 */
export class LinkCore implements LogicLink {
  readonly #o: LinkCoreOptions;
  readonly #m: GatewayLinkMetrics;
  readonly #streams = new Set<LogicStream>();
  /** The newest stream of each logic id: the rendezvous candidates. */
  readonly #byLogic = new Map<string, LogicStream>();
  readonly #pending = new Map<bigint, Pending>();
  readonly #unassigned = new Set<bigint>();
  readonly #interest = new InterestTracker();
  readonly #dropDuplicate: Counter.Internal;
  #pendingBytes = 0;
  readonly #dropMismatched: Counter.Internal;
  readonly #dropUnexpectedAuth: Counter.Internal;
  /**
   * The last event id given out. It starts at a random 64-bit value, so a
   * restarted gateway does not reuse the ids its predecessor had pending: a
   * late reply for one of those cannot name an event of this process.
   */
  #lastEventId = randomBytes(8).readBigUInt64BE(0);
  #nextSerial = 0;
  #tickScheduled = false;
  #lastStatusAt = 0;
  #draining = false;
  #shuttingDown = false;

  constructor(o: LinkCoreOptions, metrics: GatewayLinkMetrics) {
    this.#o = o;
    this.#m = metrics;
    this.#dropDuplicate = metrics.drops.labels({ reason: "duplicate_reply" });
    this.#dropMismatched = metrics.drops.labels({ reason: "mismatched_reply" });
    this.#dropUnexpectedAuth = metrics.drops.labels({ reason: "unexpected_auth_reply" });
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Estimated bytes of the pending events. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  // ---- LogicLink ------------------------------------------------------------

  send(event: ClientEvent, routingKey: string): boolean {
    // Bookkeeping events (a connection closed, a room left) may fill only half
    // of the pending set: a burst of disconnects must not crowd out the auths,
    // sends and joins of the clients that stay. Losing one only delays logic's
    // cleanup (presence expires with the gateway's lease).
    const kind = event.kind.case;
    const share = kind === "closed" || kind === "leave" ? 0.5 : 1;
    if (this.#shuttingDown || this.#pending.size >= this.#o.maxPendingEvents * share) {
      this.#m.drops.inc({ reason: "pending_full" });
      return false;
    }
    // An id refused below is simply never used: ids need not be contiguous.
    const id = this.#nextEventId();
    event.eventId = id;
    const encoded = encodeClientEvent(event);
    const bytes = encoded.byteLength + PENDING_OVERHEAD_BYTES;
    if (this.#pendingBytes + bytes > this.#o.maxPendingEventBytes * share) {
      this.#m.drops.inc({ reason: "pending_bytes_full" });
      return false;
    }
    const stream = rendezvousPick(routingKey, this.#byLogic.values());
    const deadline = performance.now() + this.#o.pendingEventTimeoutMs;
    this.#pending.set(id, { event, encoded, key: routingKey, bytes, deadline, stream });
    this.#pendingBytes += bytes;
    if (stream === undefined) {
      this.#unassigned.add(id);
      return true;
    }
    stream.assigned.add(id);
    stream.queueEvent(encoded);
    this.#schedule();
    return true;
  }

  roomAdded(room: string): void {
    this.#interest.add(room);
    this.#schedule();
  }

  roomRemoved(room: string): void {
    this.#interest.remove(room);
    this.#schedule();
  }

  connectedStreams(): number {
    return this.#streams.size;
  }

  backlogMs(): number {
    // The pending map keeps events in the order they were sent, each with the same timeout.
    for (const p of this.#pending.values())
      return Math.max(0, performance.now() - (p.deadline - this.#o.pendingEventTimeoutMs));
    return 0;
  }

  setDraining(draining: boolean): void {
    if (this.#draining === draining) return;
    this.#draining = draining;
    for (const s of this.#streams) s.push(this.#helloFrame());
  }

  // ---- stream lifecycle -----------------------------------------------------

  /**
   * Runs one StreamMessages call (after authentication): the first frame must
   * be a LogicHello within helloTimeoutMs, then the stream is open until
   * either side ends it.
   */
  accept(call: LogicCall): void {
    let stream: LogicStream | undefined;
    const reject = (err: ConnectError) => {
      clearTimeout(timer);
      // Nothing after the refusal counts: a late hello must not open a
      // stream, a late close must not count a second rejection.
      call.onMessage = () => {};
      call.onInputEnd = () => {};
      this.#countReject(err);
      call.end(err);
    };
    const timer = setTimeout(
      () => reject(new LinkError("hello_timeout", `no LogicHello within ${this.#o.helloTimeoutMs} ms`)),
      this.#o.helloTimeoutMs,
    );
    call.onMessage = (frame) => {
      if (stream !== undefined) {
        if (stream.closed) return;
        stream.lastReceivedAt = performance.now();
        this.#onFrame(stream, frame);
        return;
      }
      clearTimeout(timer);
      stream = this.#hello(frame, call);
      this.#open(stream);
    };
    call.onInputEnd = (err) => {
      if (stream === undefined) {
        reject(err ?? new LinkError("bad_hello", "stream ended before a LogicHello"));
        return;
      }
      if (stream.closed) return;
      if (err === undefined) {
        this.#close(stream, "logic_closed");
        return;
      }
      this.#countReject(err);
      this.#o.log.warn({ logic: stream.id, code: err.code, err: err.rawMessage }, "logic stream failed");
      stream.end(err);
      this.#close(stream, "error");
    };
  }

  /** Ends every stream (status UNAVAILABLE shutting_down) and refuses new events. */
  shutdown(): void {
    this.#shuttingDown = true;
    for (const s of [...this.#streams]) {
      s.end(new LinkError("shutting_down", "gateway is shutting down"));
      this.#close(s, "shutting_down");
    }
  }

  /** Periodic duties (`now` from performance.now()): event deadlines, application pings, silent peers. */
  tick(now: number): void {
    this.#expire(now);
    if (now - this.#lastStatusAt >= STATUS_INTERVAL_MS) {
      this.#lastStatusAt = now;
      const frame = this.#statusFrame();
      for (const s of this.#streams) s.push(frame);
    }
    for (const s of [...this.#streams]) {
      if (now - s.lastReceivedAt > this.#o.deadAfterMs) {
        this.#o.log.warn(
          { logic: s.id, silentMs: Math.round(now - s.lastReceivedAt) },
          "no frame from logic: resetting its stream",
        );
        s.abort();
        this.#close(s, "peer_silent");
        continue;
      }
      if (s.pingSentAt === 0) {
        s.pingNonce++;
        s.pingSentAt = now;
        s.push(
          gatewayFrameEnvelope(
            create(GatewayFrameSchema, { kind: { case: "ping", value: { nonce: s.pingNonce } } }),
          ),
        );
      }
    }
  }

  /** The LogicStream of a call whose first frame is `frame`; throws LinkError bad_hello. */
  #hello(frame: Uint8Array, call: LogicCall): LogicStream {
    const kind = decodeLogicFrame(frame);
    if (kind.case !== "hello")
      throw new LinkError("bad_hello", `first frame is ${kind.case ?? "empty"}, not hello`);
    const h = kind.value;
    if (h.protocolVersion !== PROTOCOL_VERSION) {
      throw new LinkError(
        "bad_hello",
        `protocol_version ${h.protocolVersion} not spoken (want ${PROTOCOL_VERSION})`,
      );
    }
    if (h.logicId === "") throw new LinkError("bad_hello", "empty logic_id");
    const stream: LogicStream = new LogicStream(h.logicId, h.epoch, h.version, ++this.#nextSerial, call, {
      maxBacklogBytes: this.#o.maxStreamBacklogBytes,
      onBacklogFull: () => {
        if (stream.closed) return;
        this.#o.log.warn({ logic: stream.id }, "logic stream not read: backlog full, resetting it");
        stream.abort();
        this.#close(stream, "backlog_full");
      },
      onControlDropped: () => this.#m.drops.inc({ reason: "control_full" }),
    });
    return stream;
  }

  #open(stream: LogicStream): void {
    // Publish pending interest changes to the streams that already have a
    // snapshot first, so the new stream's snapshot and later deltas line up.
    this.#flushInterest();
    this.#streams.add(stream);
    const prior = this.#byLogic.get(stream.id);
    this.#byLogic.set(stream.id, stream);
    this.#m.connectedStreams.set(this.#streams.size);
    this.#o.log.info({ logic: stream.id, epoch: stream.epoch, replaces: prior?.epoch }, "logic stream open");
    stream.push(this.#helloFrame());
    const snap = this.#interest.snapshot();
    stream.push(
      gatewayFrameEnvelope(create(GatewayFrameSchema, { kind: { case: "interestSnapshot", value: snap } })),
    );
    stream.push(this.#statusFrame());
    for (const id of this.#unassigned) this.#assign(id, false);
    this.#unassigned.clear();
    this.#schedule();
  }

  #close(stream: LogicStream, reason: StreamCloseReason): void {
    if (stream.closed) return;
    stream.closed = true;
    stream.end();
    this.#streams.delete(stream);
    if (this.#byLogic.get(stream.id) === stream) {
      this.#byLogic.delete(stream.id);
      // An older stream of the same logic process, if still open, takes over.
      for (const s of this.#streams) if (s.id === stream.id) this.#byLogic.set(s.id, s);
    }
    this.#m.connectedStreams.set(this.#streams.size);
    this.#m.streamsClosed.inc({ reason });
    this.#o.log.info({ logic: stream.id, reason, unanswered: stream.assigned.size }, "logic stream closed");
    for (const id of stream.assigned) this.#assign(id, true);
    stream.assigned.clear();
    this.#schedule();
  }

  /** Sends a pending event to the rendezvous choice among open streams, or parks it. */
  #assign(id: bigint, resend: boolean): void {
    const p = this.#pending.get(id);
    if (p === undefined) return;
    const s = rendezvousPick(p.key, this.#byLogic.values());
    p.stream = s;
    if (s === undefined) {
      this.#unassigned.add(id);
      return;
    }
    s.assigned.add(id);
    s.queueEvent(p.encoded);
    if (resend) this.#m.eventsResent.inc();
  }

  #onFrame(stream: LogicStream, frame: Uint8Array): void {
    const kind = decodeLogicFrame(frame);
    switch (kind.case) {
      case "deliveries":
        this.#m.batchesReceived.inc();
        this.#m.deliveriesReceived.inc(kind.deliveries.length);
        if (kind.deliveries.length > 0) this.#o.sink.deliver(kind.deliveries);
        stream.ackThrough = kind.batchSeq;
        if (!stream.ackDue) {
          stream.ackDue = true;
          this.#schedule();
        }
        return;
      case "replies":
        this.#onReplies(kind.value.replies);
        return;
      case "ping":
        stream.pushControl(
          gatewayFrameEnvelope(
            create(GatewayFrameSchema, { kind: { case: "pong", value: { nonce: kind.value.nonce } } }),
          ),
          "pong",
        );
        return;
      case "pong":
        if (stream.pingSentAt !== 0 && kind.value.nonce === stream.pingNonce) {
          this.#m.rtt.observe((performance.now() - stream.pingSentAt) / 1000);
          stream.pingSentAt = 0;
        }
        return;
      case "hello":
        throw new LinkError("bad_hello", "a second LogicHello on the stream");
      default:
        return;
    }
  }

  #nextEventId(): bigint {
    let id = BigInt.asUintN(64, this.#lastEventId + 1n);
    if (id === 0n) id = 1n; // 0 is the unset value on the wire
    this.#lastEventId = id;
    return id;
  }

  /**
   * A reply is applied only when it answers an event still pending here: the
   * same event id, the same connection, this process's epoch, for an auth or
   * join result an event of that kind, and for an auth event a result or a close. Anything else (a reply meant for an
   * earlier process of this gateway, a buggy or hostile logic) is dropped and
   * counted, and the pending event keeps waiting for its own reply.
   */
  #onReplies(replies: Reply[]): void {
    const kept: Reply[] = [];
    for (const r of replies) {
      const p = this.#pending.get(r.eventId);
      if (p === undefined || !replyMatches(p.event, r, this.#o.epoch)) {
        this.#countDropped(r, p !== undefined);
        continue;
      }
      this.#forget(r.eventId, p);
      kept.push(r);
    }
    this.#m.repliesReceived.inc(kept.length);
    if (kept.length > 0) this.#o.sink.reply(kept);
  }

  #forget(id: bigint, p: Pending): void {
    this.#pending.delete(id);
    this.#pendingBytes -= p.bytes;
    this.#unassigned.delete(id);
    p.stream?.assigned.delete(id);
  }

  /**
   * Gives up events past their deadline: logic did not answer (a stuck
   * process, a store outage longer than its own timeouts, no stream at all).
   * The edge answers their clients with a retryable error. The pending map
   * keeps events in the order they were sent and every event has the same
   * timeout, so the expired ones come first: the walk stops at the first one
   * still in time.
   */
  #expire(now: number): void {
    const expired: ClientEvent[] = [];
    for (const [id, p] of this.#pending) {
      if (p.deadline > now) break;
      this.#forget(id, p);
      expired.push(p.event);
    }
    if (expired.length === 0) return;
    this.#m.drops.inc({ reason: "deadline" }, expired.length);
    this.#o.log.warn(
      { events: expired.length },
      "logic did not answer events in time; clients told to retry",
    );
    this.#o.sink.expired(expired);
  }

  #countDropped(r: Reply, eventPending: boolean): void {
    // An auth result with no auth of that connection pending in this process
    // (answered already, or meant for an earlier process) is never applied.
    if (r.kind.case === "auth") this.#dropUnexpectedAuth.inc();
    // Answered already (the event was resent and both logic processes
    // replied), or given up at its deadline.
    else if (!eventPending) this.#dropDuplicate.inc();
    else this.#dropMismatched.inc();
    if (eventPending) {
      this.#o.log.warn(
        { eventId: String(r.eventId), connectionId: r.connectionId, kind: r.kind.case },
        "dropped a reply that does not match its event (connection, epoch or kind)",
      );
    }
  }

  #countReject(err: unknown): void {
    if (isLinkError(err)) {
      if (
        err.linkCode === "malformed_frame" ||
        err.linkCode === "bad_hello" ||
        err.linkCode === "hello_timeout"
      ) {
        this.#m.streamsRejected.inc({ reason: err.linkCode });
      }
    } else if (err instanceof ConnectError && err.code === Code.ResourceExhausted) {
      this.#m.streamsRejected.inc({ reason: "oversized_frame" });
    }
  }

  #statusFrame(): Uint8Array {
    const edge = this.#o.sink.status?.() ?? { connections: 0, pendingAuth: 0, rooms: 0 };
    const logic = [...this.#streams].map((s) => ({ logicId: s.id, epoch: s.epoch, version: s.version }));
    return gatewayFrameEnvelope(
      create(GatewayFrameSchema, { kind: { case: "status", value: { ...edge, logic } } }),
    );
  }

  #helloFrame(): Uint8Array {
    return gatewayFrameEnvelope(
      create(GatewayFrameSchema, {
        kind: {
          case: "hello",
          value: {
            gatewayId: this.#o.gatewayId,
            epoch: this.#o.epoch,
            protocolVersion: PROTOCOL_VERSION,
            draining: this.#draining,
            version: VERSION,
          },
        },
      }),
    );
  }

  #schedule(): void {
    if (this.#tickScheduled) return;
    this.#tickScheduled = true;
    setImmediate(this.#flushNow);
  }

  /** #flush as one function for every turn, not a closure per turn. */
  readonly #flushNow = (): void => this.#flush();

  #flush(): void {
    this.#tickScheduled = false;
    // A turn's interest delta, delivery ack and events leave each stream as one write.
    for (const s of this.#streams) s.cork();
    this.#flushInterest();
    for (const s of this.#streams) {
      if (s.ackDue) {
        s.ackDue = false;
        s.pushControl(deliveryAckFrame(s.ackThrough), "ack");
      }
      if (s.hasEvents) {
        const n = s.flushEvents();
        this.#m.eventBatchesSent.inc();
        this.#m.eventsSent.inc(n);
      }
    }
    for (const s of this.#streams) s.uncork();
  }

  #flushInterest(): void {
    const delta = this.#interest.takeDelta();
    if (delta === undefined) return;
    const frame = gatewayFrameEnvelope(
      create(GatewayFrameSchema, { kind: { case: "interestDelta", value: delta } }),
    );
    for (const s of this.#streams) s.push(frame);
  }
}

/** Whether `r` may answer the pending event `e` of the gateway process of `epoch`. */
function replyMatches(e: ClientEvent, r: Reply, epoch: string): boolean {
  if (r.connectionId !== e.connectionId) return false;
  // Empty only from logic that predates the field (docs/push-stream.md).
  if (r.gatewayEpoch !== "" && r.gatewayEpoch !== epoch) return false;
  const kind = r.kind.case;
  // An auth event is answered by its result or a close, never by a frame or
  // done: applying one would leave the connection's auth in flight forever.
  if (e.kind.case === "auth") return kind === "auth" || kind === "close";
  return (kind !== "auth" && kind !== "join") || e.kind.case === kind;
}
