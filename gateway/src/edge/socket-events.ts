import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { RawData, WebSocket } from "ws";
import { encodeErrorFrame, SUBPROTOCOL } from "../../../protocol/client-frames.ts";
import { CLOSE_CODES } from "../../../protocol/close-codes.ts";
import { TokenBucket } from "../../../protocol/token-bucket.ts";
import { Connection, type EdgeSocket } from "./connection.ts";
import type { EdgeCore } from "./edge-core.ts";
import { handleClientMessage } from "./inbound.ts";

/**
 * A connection's life from the upgrade to the socket's close: its Connection
 * is created and registered, a token in the URL is refused (or, where
 * allowed, goes to logic), and the socket's events reach the edge. The
 * listeners are created once per edge and find their Connection through the
 * socket, so a connection costs no closures.
 */
export function createSocketEvents(
  core: EdgeCore,
): (ws: EdgeSocket, req: IncomingMessage, socket: Duplex) => void {
  const { limits, log } = core;

  function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    const conn = (this as EdgeSocket).conn;
    if (!conn) return;
    try {
      handleClientMessage(core, conn, data as Buffer, isBinary);
    } catch (err) {
      // One hostile frame must cost its own connection, never the process and every other socket on it.
      log.warn({ err: (err as Error).message, connectionId: conn.id }, "client frame handler failed");
      core.closeConn(conn, CLOSE_CODES.internalError, "internal error");
    }
  }

  function onPong(this: WebSocket): void {
    const conn = (this as EdgeSocket).conn;
    if (conn) conn.alive = true;
  }

  function onError(this: WebSocket, err: Error): void {
    log.debug({ err: err.message, connectionId: (this as EdgeSocket).conn?.id }, "client socket error");
  }

  function onClose(this: WebSocket, peerCode: number): void {
    const ws = this as EdgeSocket;
    const conn = ws.conn;
    if (!conn) return;
    ws.conn = null;
    core.forget(conn, peerCode);
  }

  return (ws, req, socket) => {
    const now = Date.now();
    const conn = new Connection(
      core.allocateId(),
      ws,
      socket,
      req.socket.remoteAddress ?? "",
      now,
      new TokenBucket(limits.messagesPerSecond, limits.messageBurst, now),
    );
    ws.conn = conn;
    ws.on("message", onMessage);
    ws.on("pong", onPong);
    ws.on("close", onClose);
    ws.on("error", onError);
    core.register(conn);
    if (ws.protocol !== SUBPROTOCOL) {
      core.closeConn(conn, CLOSE_CODES.unsupportedProtocol, `offer subprotocol ${SUBPROTOCOL}`);
      return;
    }
    const q = req.url?.indexOf("?") ?? -1;
    if (q === -1) return;
    const token = new URLSearchParams((req.url as string).slice(q + 1)).get("token");
    if (token === null) return;
    if (!limits.allowTokenInUrl) {
      // Refused loudly rather than ignored, so a client that does it is fixed
      // before its tokens pile up in access logs. The token is not used or logged.
      core.metrics.urlTokensRefused.inc();
      core.send(
        conn,
        encodeErrorFrame({
          code: CLOSE_CODES.unauthorized.name,
          message: "a token in the URL is refused (URLs are logged): send it in an auth frame",
        }),
      );
      core.closeConn(conn, CLOSE_CODES.unauthorized, "token in URL refused");
      return;
    }
    if (token !== "") core.startAuth(conn, token, false);
  };
}
