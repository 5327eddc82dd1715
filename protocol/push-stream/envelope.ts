import { ENVELOPE_HEADER_BYTES } from "./constants.ts";
import { WireError } from "./wire-error.ts";

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

  /** Feeds one chunk; throws WireError message_too_large or compressed. */
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
        if (chunk[pos] !== 0) throw compressed();
        length = chunk.readUInt32BE(pos + 1);
        pos += ENVELOPE_HEADER_BYTES;
      } else {
        const n = Math.min(ENVELOPE_HEADER_BYTES - this.#headerFill, end - pos);
        chunk.copy(this.#header, this.#headerFill, pos, pos + n);
        this.#headerFill += n;
        pos += n;
        if (this.#headerFill < ENVELOPE_HEADER_BYTES) return;
        this.#headerFill = 0;
        if (this.#header[0] !== 0) throw compressed();
        length = this.#header.readUInt32BE(1);
      }
      if (length > this.#maxBytes) {
        throw new WireError(
          "message_too_large",
          "envelope",
          `message size ${length} is larger than configured readMaxBytes ${this.#maxBytes}`,
        );
      }
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

function compressed(): WireError {
  return new WireError(
    "compressed",
    "envelope",
    "received a compressed message, but no compression was negotiated",
  );
}
