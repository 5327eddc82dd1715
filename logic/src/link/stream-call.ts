import * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import { EnvelopeReader, STREAM_MESSAGES_PATH, WireError } from "../../../protocol/push-stream/index.ts";
import type { OutboundQueue } from "./outbound-queue.ts";

/** What one StreamMessages call needs. */
export interface StreamCallOptions {
  /** The gateway's HTTP/2 session (connect-node's manager keeps it alive with PINGs). */
  readonly sessions: Http2SessionManager;
  /** Extra request headers (the shared secret). */
  readonly headers: Readonly<Record<string, string>>;
  /** Where the outbound frames come from; pulled one write at a time. */
  readonly queue: OutboundQueue;
  /** Largest GatewayFrame accepted; a bigger one ends the call with RESOURCE_EXHAUSTED. */
  readonly maxInboundBytes: number;
  /** Aborting cancels the call (RST_STREAM CANCEL). */
  readonly signal: AbortSignal;
  /** Each received GatewayFrame, serialized; may throw to end the call. */
  readonly onMessage: (frame: Uint8Array) => void;
}

/**
 * One call of chatcluster.v1.GatewayService/StreamMessages, framed by hand on
 * the session's node:http2 stream: the same gRPC bytes Connect would send,
 * without its per-frame pipeline (async iterables, a serialization copy and an
 * envelope copy per frame), which at 10k msg/s in small batches was most of
 * this process's CPU for the link.
 *
 * The next frame is pulled from the queue when node:http2 reports the
 * previous write done, so batches grow while the link is busy. Resolves when
 * the gateway ends the call with status OK; rejects with a ConnectError
 * otherwise (its status, a reset, a cancel through `signal`).
 */
export async function runStreamCall(o: StreamCallOptions): Promise<void> {
  const stream = await openStream(o);
  return new Promise<void>((resolve, reject) => {
    let done = false;
    let status: ConnectError | null | undefined; // undefined: no status seen yet; null: OK
    const finish = (err: unknown) => {
      if (done) return;
      done = true;
      o.signal.removeEventListener("abort", onAbort);
      if (!stream.closed)
        stream.close(err === undefined ? http2.constants.NGHTTP2_NO_ERROR : http2.constants.NGHTTP2_CANCEL);
      if (err === undefined) resolve();
      else reject(err instanceof ConnectError ? err : ConnectError.from(err, Code.Unavailable));
    };
    const onAbort = () => finish(new ConnectError("stream call aborted", Code.Canceled));
    o.signal.addEventListener("abort", onAbort, { once: true });

    const reader = new EnvelopeReader(o.maxInboundBytes, (frame) => {
      if (!done) o.onMessage(frame);
    });
    stream.on("response", (headers) => {
      const code = headers[":status"];
      if (code !== 200) {
        finish(new ConnectError(`HTTP status ${code}`, code === 404 ? Code.Unimplemented : Code.Unavailable));
        return;
      }
      const type = headers["content-type"] ?? "";
      if (!type.startsWith("application/grpc")) {
        finish(new ConnectError(`not a gRPC response (content-type "${type}")`, Code.Internal));
        return;
      }
      // A trailers-only response carries its status in the headers.
      if (headers["grpc-status"] !== undefined) status = statusOf(headers);
    });
    stream.on("data", (chunk: Buffer) => {
      if (done) return;
      o.sessions.notifyResponseByteRead(stream);
      try {
        reader.push(chunk);
      } catch (err) {
        if (err instanceof WireError) finish(new ConnectError(err.message, err.grpcCode));
        else finish(err);
      }
    });
    stream.on("trailers", (trailers) => {
      status = statusOf(trailers);
    });
    stream.on("end", () => {
      if (reader.midMessage) finish(new ConnectError("stream ended inside a message", Code.Internal));
      else if (status === undefined)
        finish(new ConnectError("stream ended without a gRPC status", Code.Unavailable));
      else finish(status ?? undefined);
    });
    stream.on("close", () => {
      if (status !== undefined) finish(status ?? undefined);
      else finish(new ConnectError(`stream closed (HTTP/2 code ${stream.rstCode})`, Code.Unavailable));
    });
    stream.on("error", (err) => finish(err));

    const write = (frame: Uint8Array) => {
      if (done) return;
      stream.write(frame, (err) => {
        if (err) finish(err);
        else if (!done) o.queue.pull(write);
      });
    };
    o.queue.pull(write);
  });
}

/**
 * The request's HTTP/2 stream. An abort while the session is still
 * connecting (a stopped gateway whose kernel accepted the TCP connection)
 * rejects at once; the stream, if it opens later, is cancelled.
 */
function openStream(o: StreamCallOptions): Promise<http2.ClientHttp2Stream> {
  return new Promise((resolve, reject) => {
    const aborted = () => new ConnectError("stream call aborted", Code.Canceled);
    if (o.signal.aborted) {
      reject(aborted());
      return;
    }
    const onAbort = () => reject(aborted());
    o.signal.addEventListener("abort", onAbort, { once: true });
    o.sessions
      .request(
        "POST",
        STREAM_MESSAGES_PATH,
        {
          "content-type": "application/grpc+proto",
          te: "trailers",
          "user-agent": "chatcluster-logic",
          ...o.headers,
        },
        {},
      )
      .then(
        (stream) => {
          o.signal.removeEventListener("abort", onAbort);
          if (o.signal.aborted) {
            stream.on("error", () => {});
            stream.close(http2.constants.NGHTTP2_CANCEL);
          } else {
            resolve(stream);
          }
        },
        (err: unknown) => {
          o.signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      );
  });
}

function statusOf(h: http2.IncomingHttpHeaders): ConnectError | null {
  if (h["grpc-status"] === undefined) return new ConnectError("trailers without grpc-status", Code.Internal);
  const web = new Headers();
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(":") || v === undefined) continue;
    web.set(k, Array.isArray(v) ? v.join(", ") : v);
  }
  return findTrailerError(web) ?? null;
}
