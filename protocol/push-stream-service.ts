import {
  create,
  createFileRegistry,
  type DescMessage,
  type DescMethodBiDiStreaming,
  type DescService,
  type Message,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/**
 * GatewayService.StreamMessages with field-less request and response types.
 *
 * The wire format is exactly chatcluster.v1.GatewayService (same path, same
 * bytes). protobuf-es keeps every field of a field-less message as raw bytes
 * in `$unknown`, so a Connect client of this service (tests, tools) sends and
 * receives frames it built or decodes itself. The two ends of the push stream
 * do not use Connect at all: they frame the messages with envelope() and
 * EnvelopeReader below (logic/src/link/stream-call.ts,
 * gateway/src/link/logic-call.ts); see docs/push-stream.md.
 */
const file = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "chatcluster/v1/gateway_stream_raw.proto",
    package: "chatcluster.v1",
    syntax: "proto3",
    messageType: [{ name: "RawLogicFrame" }, { name: "RawGatewayFrame" }],
    service: [
      {
        name: "GatewayService",
        method: [
          {
            name: "StreamMessages",
            inputType: ".chatcluster.v1.RawLogicFrame",
            outputType: ".chatcluster.v1.RawGatewayFrame",
            clientStreaming: true,
            serverStreaming: true,
          },
        ],
      },
    ],
  }),
  () => undefined,
);

const service = file.getService("chatcluster.v1.GatewayService");
if (service === undefined) throw new Error("raw GatewayService descriptor missing");

/** A frame kept as raw fields: one `$unknown` entry per top-level field. */
export type RawFrame = Message;

const method = service.methods[0];
if (method === undefined || method.methodKind !== "bidi_streaming")
  throw new Error("raw StreamMessages descriptor wrong");

/** The raw service, for routers; its path is /chatcluster.v1.GatewayService/StreamMessages. */
export const RawGatewayService: DescService = service;
export const rawStreamMessages = method as DescMethodBiDiStreaming;
export const RawLogicFrameSchema: DescMessage = rawStreamMessages.input;
export const RawGatewayFrameSchema: DescMessage = rawStreamMessages.output;

/** The HTTP/2 path of StreamMessages. */
export const STREAM_MESSAGES_PATH = "/chatcluster.v1.GatewayService/StreamMessages";
/** gRPC's length prefix: a flags byte and a big-endian uint32 length. */
export const ENVELOPE_HEADER_BYTES = 5;

/**
 * Wraps one serialized frame in a gRPC envelope (uncompressed). Both ends of
 * the push stream frame their messages by hand on node:http2 rather than
 * through Connect's pipeline: at 10k msg/s in small batches, Connect's
 * per-frame async iterables, serialization copy and envelope copy cost both
 * processes about as much CPU as everything else together, and on a shared
 * 2-core machine that CPU is what set the latency tail (docs/push-stream.md).
 */
export function envelope(frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + frame.byteLength);
  out[0] = 0;
  out.writeUInt32BE(frame.byteLength, 1);
  out.set(frame, ENVELOPE_HEADER_BYTES);
  return out;
}

/** A gRPC envelope announced more bytes than the reader accepts. */
export class OversizedEnvelopeError extends Error {
  readonly size: number;
  readonly limit: number;

  constructor(size: number, limit: number) {
    super(`message size ${size} is larger than configured readMaxBytes ${limit}`);
    this.size = size;
    this.limit = limit;
  }
}

/** A compressed gRPC envelope: neither end negotiates compression. */
export class CompressedEnvelopeError extends Error {
  constructor() {
    super("received a compressed message, but no compression was negotiated");
  }
}

/**
 * Splits the DATA chunks of a gRPC stream into messages. A message that lies
 * within one chunk is handed on as a view into it (no copy); one that spans
 * chunks is assembled once in a buffer of its exact size.
 */
export class EnvelopeReader {
  readonly #maxBytes: number;
  readonly #onMessage: (message: Uint8Array) => void;
  /** The first bytes of a header split across chunks. */
  #header = Buffer.alloc(ENVELOPE_HEADER_BYTES);
  #headerFill = 0;
  /** A message being assembled across chunks, and how much of it is filled. */
  #partial: Buffer | undefined;
  #partialFill = 0;

  constructor(maxBytes: number, onMessage: (message: Uint8Array) => void) {
    this.#maxBytes = maxBytes;
    this.#onMessage = onMessage;
  }

  /** Feeds one chunk; throws OversizedEnvelopeError or CompressedEnvelopeError. */
  push(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      const partial = this.#partial;
      if (partial !== undefined) {
        const n = Math.min(partial.length - this.#partialFill, end - pos);
        chunk.copy(partial, this.#partialFill, pos, pos + n);
        this.#partialFill += n;
        pos += n;
        if (this.#partialFill === partial.length) {
          this.#partial = undefined;
          this.#onMessage(partial);
        }
        continue;
      }
      let length: number;
      if (this.#headerFill === 0 && end - pos >= ENVELOPE_HEADER_BYTES) {
        if (chunk[pos] !== 0) throw new CompressedEnvelopeError();
        length = chunk.readUInt32BE(pos + 1);
        pos += ENVELOPE_HEADER_BYTES;
      } else {
        const n = Math.min(ENVELOPE_HEADER_BYTES - this.#headerFill, end - pos);
        chunk.copy(this.#header, this.#headerFill, pos, pos + n);
        this.#headerFill += n;
        pos += n;
        if (this.#headerFill < ENVELOPE_HEADER_BYTES) return;
        this.#headerFill = 0;
        if (this.#header[0] !== 0) throw new CompressedEnvelopeError();
        length = this.#header.readUInt32BE(1);
      }
      if (length > this.#maxBytes) throw new OversizedEnvelopeError(length, this.#maxBytes);
      if (end - pos >= length) {
        const message = chunk.subarray(pos, pos + length);
        pos += length;
        this.#onMessage(message);
      } else {
        this.#partial = Buffer.allocUnsafe(length);
        this.#partialFill = 0;
      }
    }
  }

  /** True when a header or message has begun and not ended: a stream ending now was cut short. */
  get midMessage(): boolean {
    return this.#headerFill > 0 || this.#partial !== undefined;
  }
}
