import { create } from "@bufbuild/protobuf";
import {
  AuthRequestSchema,
  type ClientEvent,
  ClientEventSchema,
  ConnectionClosedSchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { Logger } from "../../../platform/logger.ts";
import { ERROR_CODES, encodeErrorFrame } from "../../../protocol/client-frames.ts";
import { CLOSE_CODES, type CloseCode, closeCodeName } from "../../../protocol/close-codes.ts";
import { userInterestKey } from "../../../protocol/presence-frames.ts";
import { retryHintMs } from "../../../protocol/retry-hint.ts";
import type { LogicLink } from "../logic-link.ts";
import type { Connection } from "./connection.ts";
import type { EdgeLimits } from "./edge-limits.ts";
import type { GatewayMetrics } from "./gateway-metrics.ts";
import type { InboundContext } from "./inbound-context.ts";
import { dropPresence } from "./inbound-presence.ts";
import { PresenceReporter } from "./presence-reporter.ts";
import type { PresenceTracker } from "./presence-tracker.ts";
import { RoomIndex } from "./room-index.ts";
import { shedSlowest } from "./send-budget.ts";
import { SendScheduler } from "./send-scheduler.ts";
import { UserIndex } from "./user-index.ts";
import { frameText } from "./ws-frame.ts";

/**
 * Where the edge is in its life:
 * - "serving": upgrades admitted (within the limits), ready for traffic.
 * - "draining": upgrades refused, open clients told to move; deliveries continue.
 * - "closed": every socket terminated; final.
 */
export type EdgePhase = "serving" | "draining" | "closed";

export interface EdgeCoreOptions {
  readonly link: LogicLink;
  readonly limits: EdgeLimits;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly gatewayId: string;
}

/** The least backlog `unavailable` hints assume: about a reconnect of logic or a failover of its store. */
const MIN_UNAVAILABLE_BACKLOG_MS = 500;

/** Close reasons are limited to 123 bytes of UTF-8 (RFC 6455 5.5). */
function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let r = reason.slice(0, 123);
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  return r;
}

/**
 * The state every part of one edge shares: its connections (all, those
 * authenticating, those closing), the room and user indexes, the send
 * scheduler and the presence reporter, and the few operations on them that
 * admission, socket events, inbound frames, logic's replies and the drain all
 * use: queue a frame, hand an event to logic, start an auth, close.
 */
export class EdgeCore implements InboundContext {
  readonly limits: EdgeLimits;
  readonly metrics: GatewayMetrics;
  readonly link: LogicLink;
  readonly log: Logger;
  readonly gatewayId: string;
  readonly conns = new Map<number, Connection>();
  /** Waiting for logic's auth answer (counted against maxPendingAuth). */
  readonly pending = new Set<Connection>();
  /** Sent a close frame, waiting for the peer's (the sweep destroys them after closeGraceMs). */
  readonly closing = new Set<Connection>();
  readonly index = new RoomIndex();
  readonly users = new UserIndex();
  readonly sched: SendScheduler;
  readonly reporter: PresenceReporter;
  readonly presence: PresenceTracker;
  phase: EdgePhase = "serving";
  #nextConnId = 1;
  #emptyWaiters: Array<() => void> = [];

  constructor(o: EdgeCoreOptions) {
    this.limits = o.limits;
    this.metrics = o.metrics;
    this.link = o.link;
    this.log = o.log;
    this.gatewayId = o.gatewayId;
    const metrics = o.metrics;
    this.sched = new SendScheduler(
      o.limits,
      (conn) => {
        metrics.slowConsumerCloses.inc();
        this.closeConn(conn, CLOSE_CODES.slowConsumer, "slow consumer");
      },
      (frames, bytes) => {
        metrics.framesOut.inc(frames);
        metrics.bytesOut.inc(bytes);
      },
      () =>
        shedSlowest(this.conns.values(), this.sched, o.limits.sendBudgetBytes, (conn) => {
          metrics.sendBudgetCloses.inc();
          this.closeConn(conn, CLOSE_CODES.slowConsumer, "slow consumer: gateway send budget");
        }),
    );
    metrics.sendBudget.set(o.limits.sendBudgetBytes);
    metrics.queueProbe = () => {
      let sumBytes = 0;
      let maxBytes = 0;
      for (const c of this.conns.values()) {
        const b = c.pendingBytes();
        sumBytes += b;
        if (b > maxBytes) maxBytes = b;
      }
      return { sumBytes, maxBytes };
    };
    this.reporter = new PresenceReporter({
      link: o.link,
      graceMs: o.limits.presenceGraceMs,
      leaseMs: o.limits.presenceLeaseMs,
      metrics,
      log: o.log,
    });
    this.presence = this.reporter.tracker;
  }

  /** A connection id no live connection has (uint32 on the wire; ids still in use are skipped after a wrap). */
  allocateId(): number {
    do {
      this.#nextConnId = this.#nextConnId >= 0xffff_fffe ? 1 : this.#nextConnId + 1;
    } while (this.conns.has(this.#nextConnId));
    return this.#nextConnId;
  }

  /** A new socket: tracked, and authenticating until logic answers. */
  register(conn: Connection): void {
    this.conns.set(conn.id, conn);
    this.pending.add(conn);
    this.metrics.connects.inc();
    this.metrics.connections.set(this.conns.size);
    this.metrics.pendingAuth.set(this.pending.size);
  }

  /** No longer waiting for an auth answer (authenticated, closing or gone). */
  settleAuth(conn: Connection): void {
    if (this.pending.delete(conn)) this.metrics.pendingAuth.set(this.pending.size);
  }

  /** Queues a client frame (framed here) unless the connection is closing. */
  send(conn: Connection, payload: Uint8Array): void {
    if (conn.state === "closing" || conn.state === "closed") return;
    this.sched.enqueue(conn, frameText(payload));
  }

  /** Hands one event of the connection to logic; false (and counted) when the link refuses it. */
  sendEvent(conn: Connection, kind: ClientEvent["kind"], routingKey: string): boolean {
    const event = create(ClientEventSchema, { connectionId: conn.id, kind });
    if (conn.principal) event.principal = conn.principal;
    const ok = this.link.send(event, routingKey);
    if (!ok) this.metrics.logicRefusals.inc();
    return ok;
  }

  startAuth(conn: Connection, token: string, refresh: boolean): void {
    const auth = create(AuthRequestSchema, { token, refresh, remoteAddress: conn.remoteAddress });
    if (!this.sendEvent(conn, { case: "auth", value: auth }, String(conn.id))) {
      if (refresh) this.unavailable(conn);
      else this.closeConn(conn, CLOSE_CODES.overloaded, "logic unavailable; retry");
      return;
    }
    conn.authInFlight = true;
  }

  /** The hint of a retryable refusal: grows with the events logic has not answered yet, jittered. */
  retryHintMs(): number {
    return retryHintMs(Math.max(MIN_UNAVAILABLE_BACKLOG_MS, this.link.backlogMs()));
  }

  unavailable(conn: Connection, id?: string): void {
    this.send(
      conn,
      encodeErrorFrame({
        code: ERROR_CODES.unavailable.code,
        message: "logic unavailable; retry",
        id,
        retryAfterMs: this.retryHintMs(),
      }),
    );
  }

  /** Sends the close frame (after what is queued, unless the socket is too slow for it) and forgets the memberships. */
  closeConn(conn: Connection, code: CloseCode, reason: string): void {
    if (conn.state === "closing" || conn.state === "closed") return;
    if (code !== CLOSE_CODES.slowConsumer) this.sched.flushConnection(conn);
    this.sched.release(conn);
    conn.closeCode = code.code;
    conn.state = "closing";
    conn.closingSince = Date.now();
    this.closing.add(conn);
    this.settleAuth(conn);
    this.#leaveAll(conn);
    try {
      conn.ws.close(code.code, truncateReason(reason));
    } catch {
      // A code ws will not send (from a bad CloseConnection reply): drop the socket instead.
      conn.ws.terminate();
    }
  }

  /** The socket is gone: every reference is dropped and logic is told (for an authenticated one). */
  forget(conn: Connection, peerCode: number): void {
    this.sched.release(conn);
    conn.state = "closed";
    this.conns.delete(conn.id);
    this.closing.delete(conn);
    this.settleAuth(conn);
    this.#leaveAll(conn);
    conn.queue.length = 0;
    conn.queuedBytes = 0;
    const code = conn.closeCode || peerCode;
    this.metrics.disconnects.inc({ code: closeCodeName(code) });
    this.metrics.connections.set(this.conns.size);
    if (conn.principal) {
      this.sendEvent(
        conn,
        { case: "closed", value: create(ConnectionClosedSchema, { closeCode: code }) },
        String(conn.id),
      );
    }
    if (this.phase === "draining") this.metrics.drainRemaining.set(this.conns.size);
    if (this.conns.size === 0 && this.#emptyWaiters.length > 0) {
      const waiters = this.#emptyWaiters;
      this.#emptyWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves when no connection is left, or after timeoutMs. */
  waitForEmpty(timeoutMs: number): Promise<void> {
    if (this.conns.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#emptyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #leaveAll(conn: Connection): void {
    dropPresence(this, conn);
    conn.presenceOptIns = 0;
    if (conn.principal !== undefined && this.users.remove(conn, conn.principal.userId))
      this.link.roomRemoved(userInterestKey(conn.principal.userId));
    for (const room of this.index.removeConnection(conn)) this.link.roomRemoved(room);
  }
}
