import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from "node:http";
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from "node:http2";
import { createServer as createNetServer, type Server, type Socket } from "node:net";

export type DualHandler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

/** Every HTTP/2 connection with prior knowledge starts with this preface; no HTTP/1 method does. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n");
/** A client that sends nothing is dropped after this long. */
const FIRST_BYTES_TIMEOUT_MS = 10_000;

/**
 * One cleartext port for HTTP/1.1 and HTTP/2 (h2c with prior knowledge, which
 * gRPC clients and `curl --http2-prior-knowledge` use). Node's HTTP/2 server
 * accepts HTTP/1 only over TLS (ALPN), so the first bytes of each connection
 * choose the server that takes the socket.
 */
export function createDualProtocolServer(handler: DualHandler): {
  server: Server;
  closeAll(): void;
} {
  const h1 = createHttp1Server(handler);
  const h2 = createHttp2Server(handler);
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  h2.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.setTimeout(FIRST_BYTES_TIMEOUT_MS, () => socket.destroy());
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, H2_PREFACE.length);
      const isH2Prefix = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      // Undecided while what arrived is a strict prefix of the preface.
      if (isH2Prefix && n < H2_PREFACE.length) return;
      socket.off("data", onData);
      socket.pause();
      socket.setTimeout(0);
      socket.unshift(seen);
      if (isH2Prefix) {
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  });
  return {
    server,
    closeAll() {
      // HTTP/2 sessions own their sockets once handed over: end them through the session.
      for (const s of sessions) s.destroy();
      h1.closeAllConnections();
      for (const s of sockets) s.destroy();
    },
  };
}
