import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { create } from "@bufbuild/protobuf";
import type { Registry } from "prom-client";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import {
  AuthRequestSchema,
  type AuthResult,
  type ClientEvent,
  ClientEventSchema,
  ConnectionClosedSchema,
  type JoinResult,
  type Reply,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { Logger } from "../../../platform/logger.ts";
import {
  encodeErrorFrame,
  encodeReconnectFrame,
  encodeWelcomeFrame,
  SUBPROTOCOL,
} from "../../../protocol/client-frames.ts";
import { CLOSE_CODES, type CloseCode, closeCodeName } from "../../../protocol/close-codes.ts";
import { userInterestKey } from "../../../protocol/presence-frames.ts";
import { TokenBucket } from "../../../protocol/token-bucket.ts";
import type { EdgeSink, LogicLink } from "../logic-link.ts";
import { Connection, EdgeSocket } from "./connection.ts";
import { planReconnectDelays } from "./drain-plan.ts";
import { EdgeError } from "./edge-error.ts";
import { type EdgeLimits, resolveEdgeLimits } from "./edge-limits.ts";
import { createFanOut } from "./fan-out.ts";
import { type AdmissionRefusalReason, createGatewayMetrics, type GatewayMetrics } from "./gateway-metrics.ts";
import { startHeartbeatSweep } from "./heartbeat-sweep.ts";
import { handleClientMessage } from "./inbound.ts";
import type { InboundContext } from "./inbound-context.ts";
import { dropMembership, dropPresence } from "./inbound-presence.ts";
import { PresenceReporter } from "./presence-reporter.ts";
import { RoomIndex } from "./room-index.ts";
import { SendScheduler } from "./send-scheduler.ts";
import { UserIndex } from "./user-index.ts";
import { frameText } from "./ws-frame.ts";

export interface EdgeOptions {
  /** The push-stream layer: where client events go. */
  link: LogicLink;
  /** The process registry; the edge registers chatcluster_gateway_* on it. */
  registry: Registry;
  log: Logger;
  /** Shown to clients as the prefix of their connection id. */
  gatewayId: string;
  limits?: Partial<EdgeLimits>;
  /** Randomness for jitter (drain spread, Retry-After); injectable for tests. */
  random?: () => number;
}

export interface EdgeStats {
  connections: number;
  pendingAuth: number;
  rooms: number;
  draining: boolean;
}

/** The WebSocket edge of one gateway process. Deliveries and replies arrive through EdgeSink. */
export interface Edge extends EdgeSink {
  readonly limits: EdgeLimits;
  readonly metrics: GatewayMetrics;
  /** Serves WebSocket upgrades of an existing HTTP server (plain requests are left to it). */
  attach(server: Server): void;
  /** Creates an HTTP server that only upgrades (426 otherwise) and listens on it. */
  listen(host: string, port: number): Promise<{ port: number }>;
  /**
   * Graceful drain: readiness fails and upgrades are refused at once; every open
   * client gets `reconnect` with after_ms spread uniformly over windowMs; those
   * still connected at the end are closed with `draining`. Resolves after at
   * most windowMs + limits.closeGraceMs (+ one sweep tick).
   */
  drain(windowMs: number): Promise<void>;
  /** Stops at once: terminates every socket and closes the server it created. */
  close(): Promise<void>;
  /** null when ready for traffic, else why not (for /readyz). */
  notReadyReason(): string | null;
  stats(): EdgeStats;
}

function ignoreSocketError(this: Duplex): void {
  this.destroy();
}

/** Close reasons are limited to 123 bytes of UTF-8 (RFC 6455 5.5). */
function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let r = reason.slice(0, 123);
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  return r;
}

function refuse(socket: Duplex, status: number, reason: string, retryAfterS: number): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${status === 503 ? "Service Unavailable" : "Bad Request"}\r\n` +
      `Retry-After: ${retryAfterS}\r\nX-ChatCluster-Refusal: ${reason}\r\nConnection: close\r\n` +
      `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

export function createEdge(opts: EdgeOptions): Edge {
  const limits = resolveEdgeLimits(opts.limits);
  const { link, log } = opts;
  const random = opts.random ?? Math.random;
  const metrics = createGatewayMetrics(opts.registry);
  const conns = new Map<number, Connection>();
  const pending = new Set<Connection>();
  const closing = new Set<Connection>();
  const index = new RoomIndex();
  const users = new UserIndex();
  const admission = new TokenBucket(limits.admissionPerSecond, limits.admissionBurst, Date.now());
  const wireLimits = Object.freeze({
    max_frame_bytes: limits.maxFrameBytes,
    messages_per_second: limits.messagesPerSecond,
    message_burst: limits.messageBurst,
    max_rooms: limits.maxRoomsPerConnection,
  });
  let nextConnId = 1;
  let attached = false;
  let closed = false;
  let draining = false;
  let drainPromise: Promise<void> | null = null;
  let emptyWaiters: Array<() => void> = [];
  let ownServer: Server | null = null;

  const sched = new SendScheduler(
    limits,
    (conn) => {
      metrics.slowConsumerCloses.inc();
      closeConn(conn, CLOSE_CODES.slowConsumer, "slow consumer");
    },
    (frames, bytes) => {
      metrics.framesOut.inc(frames);
      metrics.bytesOut.inc(bytes);
    },
  );
  metrics.queueProbe = () => {
    let sumBytes = 0;
    let maxBytes = 0;
    for (const c of conns.values()) {
      const b = c.pendingBytes();
      sumBytes += b;
      if (b > maxBytes) maxBytes = b;
    }
    return { sumBytes, maxBytes };
  };

  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: limits.perMessageDeflate,
    maxPayload: limits.maxFrameBytes,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    WebSocket: EdgeSocket,
  });

  function allocateId(): number {
    // uint32 on the wire; skip ids still in use after a wrap.
    do {
      nextConnId = nextConnId >= 0xffff_fffe ? 1 : nextConnId + 1;
    } while (conns.has(nextConnId));
    return nextConnId;
  }

  function send(conn: Connection, payload: Uint8Array): void {
    if (conn.state === "closing" || conn.state === "closed") return;
    sched.enqueue(conn, frameText(payload));
  }

  function sendEvent(conn: Connection, kind: ClientEvent["kind"], routingKey: string): boolean {
    const event = create(ClientEventSchema, { connectionId: conn.id, kind });
    if (conn.principal) event.principal = conn.principal;
    const ok = link.send(event, routingKey);
    if (!ok) metrics.logicRefusals.inc();
    return ok;
  }

  function leaveAll(conn: Connection): void {
    dropPresence(inbound, conn);
    conn.presenceOptIns = 0;
    if (conn.principal !== undefined && users.remove(conn, conn.principal.userId))
      link.roomRemoved(userInterestKey(conn.principal.userId));
    for (const room of index.removeConnection(conn)) link.roomRemoved(room);
  }

  const reporter = new PresenceReporter({
    link,
    graceMs: limits.presenceGraceMs,
    leaseMs: limits.presenceLeaseMs,
    metrics,
    log,
  });
  const presence = reporter.tracker;

  function closeConn(conn: Connection, code: CloseCode, reason: string): void {
    if (conn.state === "closing" || conn.state === "closed") return;
    if (code !== CLOSE_CODES.slowConsumer) sched.flushConnection(conn);
    conn.closeCode = code.code;
    conn.state = "closing";
    conn.closingSince = Date.now();
    closing.add(conn);
    if (pending.delete(conn)) metrics.pendingAuth.set(pending.size);
    leaveAll(conn);
    try {
      conn.ws.close(code.code, truncateReason(reason));
    } catch {
      // A code ws will not send (from a bad CloseConnection reply): drop the socket instead.
      conn.ws.terminate();
    }
  }

  function startAuth(conn: Connection, token: string, refresh: boolean): void {
    const auth = create(AuthRequestSchema, { token, refresh, remoteAddress: conn.remoteAddress });
    if (!sendEvent(conn, { case: "auth", value: auth }, String(conn.id))) {
      if (refresh) {
        send(
          conn,
          encodeErrorFrame({ code: "unavailable", message: "logic unavailable; retry", retryAfterMs: 1000 }),
        );
      } else {
        closeConn(conn, CLOSE_CODES.overloaded, "logic unavailable; retry");
      }
      return;
    }
    conn.authInFlight = true;
  }

  const inbound: InboundContext = {
    limits,
    metrics,
    index,
    link,
    presence,
    gatewayId: opts.gatewayId,
    send,
    sendEvent,
    closeConn,
    startAuth,
  };

  function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    const conn = (this as EdgeSocket).conn;
    if (!conn) return;
    try {
      handleClientMessage(inbound, conn, data as Buffer, isBinary);
    } catch (err) {
      // One hostile frame must cost its own connection, never the process and every other socket on it.
      log.warn({ err: (err as Error).message, connectionId: conn.id }, "client frame handler failed");
      closeConn(conn, CLOSE_CODES.internalError, "internal error");
    }
  }
  function onPong(this: WebSocket): void {
    const conn = (this as EdgeSocket).conn;
    if (conn) conn.alive = true;
  }
  function onWsError(this: WebSocket, err: Error): void {
    log.debug({ err: err.message, connectionId: (this as EdgeSocket).conn?.id }, "client socket error");
  }
  function onClose(this: WebSocket, peerCode: number): void {
    const ws = this as EdgeSocket;
    const conn = ws.conn;
    if (!conn) return;
    ws.conn = null;
    conn.state = "closed";
    conns.delete(conn.id);
    closing.delete(conn);
    if (pending.delete(conn)) metrics.pendingAuth.set(pending.size);
    leaveAll(conn);
    conn.queue.length = 0;
    conn.queuedBytes = 0;
    const code = conn.closeCode || peerCode;
    metrics.disconnects.inc({ code: closeCodeName(code) });
    metrics.connections.set(conns.size);
    if (conn.principal) {
      sendEvent(
        conn,
        { case: "closed", value: create(ConnectionClosedSchema, { closeCode: code }) },
        String(conn.id),
      );
    }
    if (draining) metrics.drainRemaining.set(conns.size);
    if (conns.size === 0 && emptyWaiters.length > 0) {
      const waiters = emptyWaiters;
      emptyWaiters = [];
      for (const w of waiters) w();
    }
  }

  function onOpen(ws: EdgeSocket, req: IncomingMessage, socket: Duplex): void {
    const now = Date.now();
    const id = allocateId();
    const remote = req.socket.remoteAddress ?? "";
    const conn = new Connection(
      id,
      ws,
      socket,
      remote,
      now,
      new TokenBucket(limits.messagesPerSecond, limits.messageBurst, now),
    );
    ws.conn = conn;
    ws.on("message", onMessage);
    ws.on("pong", onPong);
    ws.on("close", onClose);
    ws.on("error", onWsError);
    conns.set(id, conn);
    pending.add(conn);
    metrics.connects.inc();
    metrics.connections.set(conns.size);
    metrics.pendingAuth.set(pending.size);
    if (ws.protocol !== SUBPROTOCOL) {
      closeConn(conn, CLOSE_CODES.unsupportedProtocol, `offer subprotocol ${SUBPROTOCOL}`);
      return;
    }
    const q = req.url?.indexOf("?") ?? -1;
    if (q !== -1) {
      const token = new URLSearchParams((req.url as string).slice(q + 1)).get("token");
      if (token) startAuth(conn, token, false);
    }
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", ignoreSocketError);
    let reason: AdmissionRefusalReason | null = null;
    let retryAfterS = 1 + Math.floor(random() * 4);
    if (req.headers.upgrade?.toLowerCase() !== "websocket") reason = "bad_request";
    else if (closed || draining) reason = "draining";
    else if (conns.size >= limits.maxConnections) reason = "max_connections";
    else if (pending.size >= limits.maxPendingAuth) reason = "pending_auth";
    else if (!admission.take(Date.now())) {
      reason = "rate";
      retryAfterS = Math.ceil(admission.waitMs(Date.now()) / 1000) + Math.floor(random() * 3);
    }
    if (reason !== null) {
      metrics.admissionRefusals.inc({ reason });
      refuse(socket, reason === "bad_request" ? 400 : 503, reason, Math.max(1, retryAfterS));
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off("error", ignoreSocketError);
      onOpen(ws, req, socket);
    });
  }

  function onAuthResult(conn: Connection, res: AuthResult): void {
    conn.authInFlight = false;
    if (res.ok && res.principal) {
      conn.principal = res.principal;
      conn.expiresAtMs = Number(res.principal.expiresAtMs);
      if (conn.state === "authenticating") {
        conn.state = "open";
        pending.delete(conn);
        metrics.pendingAuth.set(pending.size);
        // Indexed under its user too, so the user's other devices can be told (read markers).
        if (users.add(conn, res.principal.userId)) link.roomAdded(userInterestKey(res.principal.userId));
      }
      send(
        conn,
        encodeWelcomeFrame({
          user: res.principal.userId,
          connection_id: `${opts.gatewayId}/${conn.id}`,
          heartbeat_ms: limits.heartbeatMs,
          limits: wireLimits,
        }),
      );
      return;
    }
    const code = res.errorCode || CLOSE_CODES.unauthorized.name;
    send(conn, encodeErrorFrame({ code, message: res.errorMessage || "authentication failed" }));
    const close = res.closeCode
      ? { ...CLOSE_CODES.unauthorized, code: res.closeCode }
      : CLOSE_CODES.unauthorized;
    closeConn(conn, close, code.slice(0, 100));
  }

  function onJoinResult(conn: Connection, res: JoinResult): void {
    if (res.frame.byteLength > 0) send(conn, res.frame);
    const m = conn.membership(res.room);
    if (!m) return;
    const held = m.held;
    m.held = null;
    if (!res.ok) {
      // A failed resume of a room logic had already accepted keeps the
      // membership (the client is still in the room and retries); only a
      // first join that failed leaves the room.
      if (!m.present) {
        dropMembership(inbound, conn, res.room);
        return;
      }
      if (held !== null)
        for (const h of held) if (h.seq === 0 || h.seq > m.floor) sched.enqueue(conn, h.frame);
      return;
    }
    if (!m.present && conn.principal) {
      m.present = true;
      presence.add(res.room, conn.principal.userId);
    }
    m.floor = Number(res.lastSeq);
    if (held === null) return;
    for (const h of held) if (h.seq === 0 || h.seq > m.floor) sched.enqueue(conn, h.frame);
  }

  const deliver = createFanOut({ conns, index, users, sched, limits, metrics });

  function reply(replies: readonly Reply[]): void {
    for (const r of replies) {
      const conn = conns.get(r.connectionId);
      if (conn === undefined || conn.state === "closing" || conn.state === "closed") continue;
      switch (r.kind.case) {
        case "auth":
          onAuthResult(conn, r.kind.value);
          break;
        case "join":
          onJoinResult(conn, r.kind.value);
          break;
        case "frame":
          send(conn, r.kind.value);
          break;
        case "close": {
          const c = r.kind.value;
          const known = { ...CLOSE_CODES.overloaded, code: c.closeCode || CLOSE_CODES.overloaded.code };
          closeConn(conn, known, c.reason);
          break;
        }
        default:
          break;
      }
    }
  }

  const sweep = startHeartbeatSweep({ limits, conns, pending, closing, closeConn });

  function waitForEmpty(timeoutMs: number): Promise<void> {
    if (conns.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      emptyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async function runDrain(windowMs: number): Promise<void> {
    const started = Date.now();
    for (const c of [...pending]) closeConn(c, CLOSE_CODES.draining, "draining");
    const open: Connection[] = [];
    for (const c of conns.values()) if (c.state === "open") open.push(c);
    const delays = planReconnectDelays(open.length, windowMs, random);
    open.forEach((c, i) => {
      send(c, encodeReconnectFrame(delays[i] as number));
    });
    metrics.drainRemaining.set(conns.size);
    log.info({ clients: open.length, windowMs }, "draining: reconnect hints sent");
    await waitForEmpty(windowMs);
    for (const c of [...conns.values()]) closeConn(c, CLOSE_CODES.draining, "draining");
    await waitForEmpty(limits.closeGraceMs);
    for (const c of [...conns.values()]) c.ws.terminate();
    await waitForEmpty(100);
    // Clients reconnected elsewhere during the window; what is still pending
    // goes now, and the epoch's lease is released.
    reporter.release();
    metrics.drainRemaining.set(conns.size);
    log.info({ ms: Date.now() - started, remaining: conns.size }, "drained");
  }

  function attach(server: Server): void {
    server.on("upgrade", onUpgrade);
    attached = true;
  }

  return {
    limits,
    metrics,
    deliver,
    reply,
    attach,
    async listen(host, port) {
      const server = createServer((_req, res) => {
        res
          .writeHead(426, { "content-type": "text/plain", upgrade: "websocket" })
          .end(`WebSocket only (subprotocol ${SUBPROTOCOL})\n`);
      });
      server.on("clientError", (_err, socket) => socket.destroy());
      attach(server);
      await new Promise<void>((resolve, reject) => {
        const fail = (err: Error) =>
          reject(new EdgeError("listen_failed", `client port ${host}:${port}`, err));
        server.once("error", fail);
        server.listen(port, host, () => {
          server.off("error", fail);
          resolve();
        });
      });
      ownServer = server;
      const bound = (server.address() as AddressInfo).port;
      log.info({ host, port: bound }, "client websocket listening");
      return { port: bound };
    },
    drain(windowMs) {
      if (drainPromise === null) {
        draining = true;
        link.setDraining(true);
        drainPromise = runDrain(windowMs);
      }
      return drainPromise;
    },
    async close() {
      closed = true;
      clearInterval(sweep);
      reporter.stop();
      for (const c of [...conns.values()]) c.ws.terminate();
      wss.close();
      const server = ownServer;
      ownServer = null;
      if (server) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
    },
    notReadyReason() {
      if (closed) return "closed";
      if (draining) return "draining";
      if (!attached) return "client port not listening";
      if (link.connectedStreams() === 0) return "no logic stream connected";
      return null;
    },
    stats() {
      return { connections: conns.size, pendingAuth: pending.size, rooms: index.size, draining };
    },
  };
}
