import * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { EnvelopeReader, WireError } from "../../../protocol/push-stream/index.ts";

const GRPC_CONTENT_TYPE = "application/grpc+proto";

/**
 * One StreamMessages call on the gateway, framed by hand on a node:http2
 * server stream: the same gRPC bytes Connect's handler would exchange, without
 * its per-frame pipeline (async iterables, a serialization copy and an
 * envelope copy per frame in each direction), which at 10k msg/s in small
 * batches was most of this process's CPU for the link.
 *
 * Response headers go out with the first frame; a call ended before any frame
 * gets a trailers-only response, as Connect sends one.
 */
export class LogicCall {
  readonly #stream: http2.ServerHttp2Stream;
  #responded = false;
  #ended = false;
  #inputEnded = false;
  #status: ConnectError | undefined;
  /** Each received LogicFrame, serialized; a throw ends the input with that error. */
  onMessage: (frame: Uint8Array) => void = () => {};
  /** The request side is over (half-close, reset, bad input); called once. */
  onInputEnd: (err: ConnectError | undefined) => void = () => {};
  /** A write() that returned false has drained. */
  onDrain: () => void = () => {};

  constructor(stream: http2.ServerHttp2Stream, maxFrameBytes: number) {
    this.#stream = stream;
    const reader = new EnvelopeReader(maxFrameBytes, (frame) => {
      if (!this.#inputEnded) this.onMessage(frame);
    });
    stream.on("data", (chunk: Buffer) => {
      if (this.#inputEnded) return;
      try {
        reader.push(chunk);
      } catch (err) {
        this.#endInput(inputError(err));
      }
    });
    stream.on("end", () =>
      this.#endInput(
        reader.midMessage
          ? new ConnectError("request ended inside a message", Code.InvalidArgument)
          : undefined,
      ),
    );
    stream.on("close", () => this.#endInput(undefined));
    stream.on("error", (err) => this.#endInput(ConnectError.from(err, Code.Unavailable)));
    stream.on("drain", () => this.onDrain());
    stream.on("wantTrailers", () => {
      try {
        this.#stream.sendTrailers(statusHeaders(this.#status));
      } catch {
        // The stream was reset meanwhile; nobody is left to read the status.
      }
    });
  }

  /** Writes one enveloped GatewayFrame; false when the caller should wait for onDrain. */
  write(frame: Uint8Array): boolean {
    // A closed stream cannot take a response: its close ends the call through onInputEnd.
    if (this.#ended || this.#stream.destroyed || this.#stream.closed) return false;
    if (!this.#responded) {
      this.#responded = true;
      this.#stream.respond({ ":status": 200, "content-type": GRPC_CONTENT_TYPE }, { waitForTrailers: true });
    }
    return this.#stream.write(frame);
  }

  /** Ends the response with status OK, or with `error`'s code and message. */
  end(error?: ConnectError): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#status = error;
    const s = this.#stream;
    if (s.destroyed || s.closed) return;
    if (this.#responded) {
      s.end(); // then wantTrailers sends the status
      return;
    }
    this.#responded = true;
    s.respond(
      { ":status": 200, "content-type": GRPC_CONTENT_TYPE, ...statusHeaders(error) },
      { endStream: true },
    );
  }

  /**
   * Resets the stream (RST_STREAM CANCEL) without writing what is queued: for
   * a peer that does not read, a graceful end would wait behind its unread
   * frames forever and keep them in memory.
   */
  abort(): void {
    this.#ended = true;
    const s = this.#stream;
    if (!s.destroyed && !s.closed) s.close(http2.constants.NGHTTP2_CANCEL);
  }

  #endInput(err: ConnectError | undefined): void {
    if (this.#inputEnded) return;
    this.#inputEnded = true;
    this.onInputEnd(err);
  }
}

/** A request that cannot be a StreamMessages call: answered with a status and no messages. */
export function rejectCall(stream: http2.ServerHttp2Stream, error: ConnectError): void {
  const call = new LogicCall(stream, 0);
  call.end(error);
}

function inputError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof WireError) return new ConnectError(err.message, err.grpcCode);
  return ConnectError.from(err, Code.Internal);
}

function statusHeaders(error: ConnectError | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  setTrailerStatus(new Headers(), error).forEach((v, k) => {
    out[k] = v;
  });
  return out;
}
