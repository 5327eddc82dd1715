import { createHash, timingSafeEqual } from "node:crypto";
import * as http2 from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Registry } from "prom-client";
import type { Logger } from "../../../platform/logger.ts";
import { SECRET_HEADER, STREAM_MESSAGES_PATH } from "../../../protocol/push-stream/index.ts";
import type { EdgeSink, LogicLink } from "../logic-link.ts";
import { createInternalTlsServer, type InternalTlsServerOptions } from "./internal-tls-server.ts";
import { LinkCore } from "./link-core.ts";
import { LinkError } from "./link-error.ts";
import { createGatewayLinkMetrics, type GatewayLinkMetrics } from "./link-metrics.ts";
import { LogicCall, rejectCall } from "./logic-call.ts";

const MiB = 1024 * 1024;

/** Options of createLogicLinkServer. The first five are required. */
export interface LogicLinkServerOptions {
  /** Where deliveries and replies go (the WebSocket edge). */
  sink: EdgeSink;
  /** Stable name of this gateway (the StatefulSet pod name), sent in GatewayHello. */
  gatewayId: string;
  /** Random per process start; a new epoch tells logic this is a restarted gateway. */
  epoch: string;
  /** Registry for chatcluster_gateway_link_* metrics. */
  registry: Registry;
  log: Logger;
  /** Address of the internal port. Default 0.0.0.0. */
  host?: string;
  /** Internal port; 0 picks a free one. Default 0. */
  port?: number;
  /**
   * Serve TLS with these PEM files instead of h2c; with a CA bundle, logic
   * must present a client certificate (mTLS). Rotated files apply to new
   * connections without dropping open streams (internal-tls-server.ts).
   */
  tls?: InternalTlsServerOptions;
  /**
   * Shared secret logic must send in the x-chatcluster-link-secret header;
   * streams without it end with UNAUTHENTICATED. A second factor next to the
   * client certificate: a stolen certificate alone, or the secret alone, does
   * not open a stream. Default: no check.
   */
  secret?: string;
  /**
   * A previous shared secret, accepted too while it is rotated out: logic
   * processes started before a rotation still present it. Default: none.
   */
  previousSecret?: string;
  /** Largest LogicFrame accepted; bigger ones end the stream with RESOURCE_EXHAUSTED. Default 8 MiB. */
  maxFrameBytes?: number;
  /** Events sent and not yet answered, across all streams; send() refuses beyond it. Default 10,000. */
  maxPendingEvents?: number;
  /** The same in estimated bytes (a send counts its body). Default 64 MiB. */
  maxPendingEventBytes?: number;
  /**
   * An event logic has not answered after this long is given up: the edge
   * answers its client with a retryable error (or closes a connection still
   * waiting for its auth with 4013). A late reply is discarded. Default 10 s.
   */
  pendingEventTimeoutMs?: number;
  /**
   * Bytes one stream may hold while logic does not read it (hellos, interest,
   * event batches); beyond, the stream is reset (backlog_full), its backlog
   * dropped and its unanswered events moved to other streams. Default 64 MiB (more than an
   * interest snapshot of 100,000 rooms).
   */
  maxStreamBacklogBytes?: number;
  /** Application Ping and HTTP/2 PING interval. Default 1 s. */
  pingIntervalMs?: number;
  /** A stream silent for this long, or an HTTP/2 PING unanswered for this long, is closed. Default 4 s. */
  deadAfterMs?: number;
  /** A stream whose LogicHello does not arrive in time ends with DEADLINE_EXCEEDED. Default 5 s. */
  helloTimeoutMs?: number;
  /** HTTP/2 tuning; the defaults favour one fat stream per peer on a LAN. */
  http2?: Partial<Http2ServerTuning>;
}

export interface Http2ServerTuning {
  /** Per-stream receive window advertised to logic. Default 8 MiB. */
  initialWindowSize: number;
  /** Connection-level receive window (session.setLocalWindowSize). Default 32 MiB. */
  connectionWindowSize: number;
  /** Largest DATA frame logic may send. Default 256 KiB (16 KiB costs 16x the frame headers). */
  maxFrameSize: number;
  /** nghttp2 memory cap per session, MB. Default 64 (Node's default of 10 throttles a fat stream). */
  maxSessionMemoryMb: number;
  /** Streams per session: one per logic process is expected. Default 16. */
  maxConcurrentStreams: number;
}

export interface LogicLinkServer {
  /** What the WebSocket edge calls. */
  readonly link: LogicLink;
  readonly metrics: GatewayLinkMetrics;
  /** Starts listening; resolves with the bound port. */
  listen(): Promise<{ port: number }>;
  /** Ends every stream (UNAVAILABLE shutting_down), closes sessions and the port. */
  close(): Promise<void>;
}

/** The gateway's end of the push stream: gRPC on node:http2, framed in logic-call.ts. */
export function createLogicLinkServer(opts: LogicLinkServerOptions): LogicLinkServer {
  const pingIntervalMs = opts.pingIntervalMs ?? 1000;
  const deadAfterMs = opts.deadAfterMs ?? 4000;
  if (deadAfterMs <= pingIntervalMs)
    throw new RangeError("logic link: deadAfterMs must exceed pingIntervalMs");
  if (opts.gatewayId === "" || opts.epoch === "")
    throw new RangeError("logic link: gatewayId and epoch are required");
  const tuning: Http2ServerTuning = {
    initialWindowSize: opts.http2?.initialWindowSize ?? 8 * MiB,
    connectionWindowSize: opts.http2?.connectionWindowSize ?? 32 * MiB,
    maxFrameSize: opts.http2?.maxFrameSize ?? 256 * 1024,
    maxSessionMemoryMb: opts.http2?.maxSessionMemoryMb ?? 64,
    maxConcurrentStreams: opts.http2?.maxConcurrentStreams ?? 16,
  };
  const log = opts.log.child({ subsystem: "link" });
  let core: LinkCore | undefined;
  const metrics = createGatewayLinkMetrics(opts.registry, () => ({
    events: core?.pendingCount ?? 0,
    bytes: core?.pendingBytes ?? 0,
  }));
  core = new LinkCore(
    {
      gatewayId: opts.gatewayId,
      epoch: opts.epoch,
      sink: opts.sink,
      log,
      maxPendingEvents: opts.maxPendingEvents ?? 10_000,
      maxPendingEventBytes: opts.maxPendingEventBytes ?? 64 * MiB,
      pendingEventTimeoutMs: opts.pendingEventTimeoutMs ?? 10_000,
      maxStreamBacklogBytes: opts.maxStreamBacklogBytes ?? 64 * MiB,
      helloTimeoutMs: opts.helloTimeoutMs ?? 5000,
      pingIntervalMs,
      deadAfterMs,
    },
    metrics,
  );
  const link = core;
  // The current secret first; any of them admits a stream. No secret at all: no check (local runs).
  const secretDigests = [opts.secret, opts.previousSecret]
    .filter((x): x is string => x !== undefined && x !== "")
    .map(digest);
  const tlsServer =
    opts.tls === undefined ? undefined : createInternalTlsServer(opts.tls, opts.registry, log);

  const maxFrameBytes = opts.maxFrameBytes ?? 8 * MiB;

  /** StreamMessages, the only route of the internal port, as gRPC over node:http2. */
  function onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on("error", () => {}); // reported through the call's input end
    if (headers[":path"] !== STREAM_MESSAGES_PATH || headers[":method"] !== "POST") {
      rejectCall(stream, new ConnectError(`no such method: ${headers[":path"]}`, Code.Unimplemented));
      return;
    }
    const contentType = headers["content-type"] ?? "";
    if (contentType !== "application/grpc" && !contentType.startsWith("application/grpc+proto")) {
      stream.respond({ ":status": 415 }, { endStream: true });
      return;
    }
    const encoding = headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") {
      rejectCall(stream, new ConnectError(`unsupported grpc-encoding ${encoding}`, Code.Unimplemented));
      return;
    }
    const wrongClient = tlsServer?.refusal(stream.session as http2.ServerHttp2Session);
    if (wrongClient !== undefined) {
      metrics.streamsRejected.inc({ reason: "unauthenticated" });
      rejectCall(stream, new LinkError("unauthenticated", wrongClient));
      return;
    }
    if (secretDigests.length > 0) {
      const given = headers[SECRET_HEADER];
      const g = typeof given === "string" ? digest(given) : undefined;
      // Every digest is compared, so the time taken says nothing about which one matched.
      const matches = secretDigests.map((d) => g !== undefined && timingSafeEqual(g, d));
      if (!matches.includes(true)) {
        metrics.streamsRejected.inc({ reason: "unauthenticated" });
        rejectCall(stream, new LinkError("unauthenticated", `missing or wrong ${SECRET_HEADER} header`));
        return;
      }
      if (!matches[0]) metrics.previousSecretStreams.inc();
    }
    link.accept(new LogicCall(stream, maxFrameBytes));
  }

  const serverOptions: http2.ServerOptions = {
    maxSessionMemory: tuning.maxSessionMemoryMb,
    settings: {
      initialWindowSize: tuning.initialWindowSize,
      maxFrameSize: tuning.maxFrameSize,
      maxConcurrentStreams: tuning.maxConcurrentStreams,
    },
  };
  let server: http2.Http2Server | http2.Http2SecureServer;
  if (tlsServer !== undefined) {
    const secure = http2.createSecureServer({ ...serverOptions, ...tlsServer.serverOptions });
    tlsServer.attach(secure);
    server = secure;
  } else {
    server = http2.createServer(serverOptions);
  }
  server.on("stream", onStream);

  // Frames are already coalesced by the batcher; Nagle would only hold small
  // frames (acks, pongs, small batches) back for a delayed ACK.
  server.on(opts.tls ? "secureConnection" : "connection", (socket: Socket) => socket.setNoDelay(true));

  const sessions = new Map<http2.ServerHttp2Session, { pingSentAt: number }>();
  server.on("session", (session: http2.ServerHttp2Session) => {
    sessions.set(session, { pingSentAt: 0 });
    session.on("close", () => sessions.delete(session));
    session.on("error", () => {});
    const widen = () => {
      try {
        session.setLocalWindowSize(tuning.connectionWindowSize);
      } catch (err) {
        log.warn({ err: (err as Error).message }, "could not widen the HTTP/2 connection window");
      }
    };
    if (session.connecting) session.once("connect", widen);
    else widen();
  });

  // One timer for all sessions and streams: HTTP/2 PINGs catch a dead TCP
  // connection, application Pings catch a stuck peer process and measure RTT.
  const timer = setInterval(() => {
    const now = performance.now();
    for (const [session, state] of sessions) {
      if (state.pingSentAt !== 0) {
        if (now - state.pingSentAt > deadAfterMs) {
          metrics.sessionPingFailures.inc();
          log.warn("HTTP/2 PING unanswered: destroying the session");
          session.destroy();
        }
        continue;
      }
      state.pingSentAt = now;
      try {
        session.ping((err) => {
          if (err === null) state.pingSentAt = 0;
        });
      } catch {
        // Session closing; its close event removes it.
      }
    }
    link.tick(now);
  }, pingIntervalMs);
  timer.unref();

  return {
    link,
    metrics,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(opts.port ?? 0, opts.host ?? "0.0.0.0", () => {
          server.off("error", reject);
          const port = (server.address() as AddressInfo).port;
          log.info(
            {
              port,
              tls: opts.tls !== undefined,
              clientCertificates: opts.tls?.caFile !== undefined,
              auth: secretDigests.length > 0,
            },
            "logic link listening",
          );
          resolve({ port });
        });
      }),
    close: async () => {
      clearInterval(timer);
      tlsServer?.close();
      link.shutdown();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          for (const s of sessions.keys()) s.destroy();
        }, 2000);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        for (const s of sessions.keys()) s.close();
        if (!server.listening) resolve();
      });
    },
  };
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}
