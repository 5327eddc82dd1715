import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocketServer } from "ws";
import { TokenBucket } from "../../../protocol/token-bucket.ts";
import type { EdgeSocket } from "./connection.ts";
import type { EdgeCore } from "./edge-core.ts";
import type { AdmissionRefusalReason } from "./gateway-metrics.ts";

/** Called with each upgraded socket, before any of its frames. */
export type OnUpgraded = (ws: EdgeSocket, req: IncomingMessage, socket: Duplex) => void;

function ignoreSocketError(this: Duplex): void {
  this.destroy();
}

function refuse(socket: Duplex, status: number, reason: string, retryAfterS: number): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${status === 503 ? "Service Unavailable" : "Bad Request"}\r\n` +
      `Retry-After: ${retryAfterS}\r\nX-ChatCluster-Refusal: ${reason}\r\nConnection: close\r\n` +
      `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/**
 * The HTTP `upgrade` handler: a flat list of guard clauses (not a WebSocket
 * upgrade, draining, too many connections, too many waiting for logic's auth
 * answer, over the admission rate), each ending in one refusal with a
 * jittered Retry-After and the reason in X-ChatCluster-Refusal, so refused
 * clients come back spread out instead of together.
 */
export function createUpgradeHandler(
  core: EdgeCore,
  wss: WebSocketServer,
  random: () => number,
  onUpgraded: OnUpgraded,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { limits, metrics } = core;
  const admission = new TokenBucket(limits.admissionPerSecond, limits.admissionBurst, Date.now());
  return (req, socket, head) => {
    socket.on("error", ignoreSocketError);
    let reason: AdmissionRefusalReason | null = null;
    let retryAfterS = 1 + Math.floor(random() * 4);
    if (req.headers.upgrade?.toLowerCase() !== "websocket") reason = "bad_request";
    else if (core.phase !== "serving") reason = "draining";
    else if (core.conns.size >= limits.maxConnections) reason = "max_connections";
    else if (core.pending.size >= limits.maxPendingAuth) reason = "pending_auth";
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
      onUpgraded(ws as EdgeSocket, req, socket);
    });
  };
}
