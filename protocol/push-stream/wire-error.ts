import { Code } from "@connectrpc/connect";

/**
 * Stable codes of push-stream bytes that do not decode, each with the gRPC
 * status a peer sees when they end its stream.
 */
export const WIRE_ERROR_CODES = {
  /** A varint, fixed-size field or length-delimited field runs past the end of its frame or message. */
  truncated: Code.InvalidArgument,
  /** A varint longer than 10 bytes. */
  varint_too_long: Code.InvalidArgument,
  /** A tag, length or uint32 value of 2^32 or more: refused, never wrapped. */
  out_of_range: Code.InvalidArgument,
  /** A wire type this protocol does not use (groups), or the wrong one for a known field. */
  wire_type: Code.InvalidArgument,
  /** A nested message or packed field whose contents do not end exactly at its length. */
  overrun: Code.InvalidArgument,
  /** The generated decoder refused a nested message. */
  invalid_message: Code.InvalidArgument,
  /** A gRPC envelope announcing more bytes than the reader accepts. */
  message_too_large: Code.ResourceExhausted,
  /** A compressed gRPC envelope: neither end negotiates compression. */
  compressed: Code.Internal,
} as const;
export type WireErrorCode = keyof typeof WIRE_ERROR_CODES;

/**
 * The one error of the push-stream wire: bytes that cannot be a frame. `what`
 * names the message being read (`DeliveryBatch`, `GatewayFrame`, `envelope`).
 * The message reads `<what>: <detail>`; each side turns it into the status
 * that ends the stream (`grpcCode`).
 */
export class WireError extends Error {
  override readonly name = "WireError";
  readonly code: WireErrorCode;
  readonly what: string;

  constructor(code: WireErrorCode, what: string, detail: string, options?: ErrorOptions) {
    super(`${what}: ${detail}`, options);
    this.code = code;
    this.what = what;
  }

  /** The gRPC status code a stream ended by this error reports. */
  get grpcCode(): Code {
    return WIRE_ERROR_CODES[this.code];
  }
}
