import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { WebSocketServer } from "ws";
import type { Logger } from "../../../platform/logger.ts";
import { SUBPROTOCOL } from "../../../protocol/client-frames.ts";
import type { EdgeSink, LogicLink } from "../logic-link.ts";
import { createUpgradeHandler } from "./admission.ts";
import { EdgeSocket } from "./connection.ts";
import { createCommandHandler } from "./connection-commands.ts";
import { drainEdge } from "./drain.ts";
import { EdgeCore } from "./edge-core.ts";
import { EdgeError } from "./edge-error.ts";
import { type EdgeLimits, resolveEdgeLimits } from "./edge-limits.ts";
import { createFanOut } from "./fan-out.ts";
import { createGatewayMetrics, type GatewayMetrics } from "./gateway-metrics.ts";
import { startHeartbeatSweep } from "./heartbeat-sweep.ts";
import { createReplyHandler } from "./logic-replies.ts";
import { createSocketEvents } from "./socket-events.ts";
import { createExpiryHandler } from "./unanswered-events.ts";

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

/**
 * Assembles one edge: the shared core, admission on the HTTP upgrade, the
 * socket events, fan-out, logic's replies and its unanswered events (the EdgeSink), the heartbeat
 * sweep and the drain; and owns the phases (serving, draining, closed) and
 * readiness.
 */
export function createEdge(opts: EdgeOptions): Edge {
  const limits = resolveEdgeLimits(opts.limits);
  const { link, log } = opts;
  const random = opts.random ?? Math.random;
  const metrics = createGatewayMetrics(opts.registry);
  const core = new EdgeCore({ link, limits, metrics, log, gatewayId: opts.gatewayId });
  let attached = false;
  let drainPromise: Promise<void> | null = null;
  let ownServer: Server | null = null;

  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: limits.perMessageDeflate,
    maxPayload: limits.maxFrameBytes,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    WebSocket: EdgeSocket,
  });
  const onUpgrade = createUpgradeHandler(core, wss, random, createSocketEvents(core));
  const sweep = startHeartbeatSweep(core);

  function attach(server: Server): void {
    server.on("upgrade", onUpgrade);
    attached = true;
  }

  const reply = createReplyHandler(core);
  return {
    limits,
    metrics,
    deliver: createFanOut(core, createCommandHandler(core)),
    reply,
    expired: createExpiryHandler(core, reply),
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
        server.listen({ port, host, backlog: limits.listenBacklog }, () => {
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
        if (core.phase === "serving") core.phase = "draining";
        link.setDraining(true);
        drainPromise = drainEdge(core, windowMs, random);
      }
      return drainPromise;
    },
    async close() {
      core.phase = "closed";
      clearInterval(sweep);
      core.reporter.stop();
      for (const c of [...core.conns.values()]) c.ws.terminate();
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
      if (core.phase !== "serving") return core.phase;
      if (!attached) return "client port not listening";
      if (link.connectedStreams() === 0) return "no logic stream connected";
      return null;
    },
    stats() {
      return {
        connections: core.conns.size,
        pendingAuth: core.pending.size,
        rooms: core.index.size,
        draining: core.phase === "draining",
      };
    },
  };
}
