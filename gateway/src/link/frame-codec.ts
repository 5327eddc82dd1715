import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type Delivery,
  type GatewayFrame,
  GatewayFrameSchema,
  type LogicFrame,
  LogicHelloSchema,
  PingSchema,
  PongSchema,
  ReplyBatchSchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { ENVELOPE_HEADER_BYTES, envelope } from "../../../protocol/push-stream-service.ts";
import { isLinkError, LinkError } from "./link-error.ts";

/**
 * The gateway's side of the wire: a hand-written decoder for DeliveryBatch
 * (the hot frame; equal to fromBinary, see frame-codec.test.ts) that keeps
 * payloads as views into the received frame, and the generated schemas for
 * everything else.
 */

const DELIVERY_TYPE = "chatcluster.v1.Delivery" as const;

/** A LogicFrame as the link consumes it: batches decoded by hand, the rest generated. */
export type DecodedLogicFrame =
  | { case: "deliveries"; batchSeq: bigint; deliveries: Delivery[] }
  | Exclude<LogicFrame["kind"], { case: "deliveries" }>;

class Reader {
  readonly buf: Buffer;
  pos: number;
  end: number;
  /** What is being read, for error messages. */
  readonly what: string;

  constructor(bytes: Uint8Array, what = "DeliveryBatch") {
    this.what = what;
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.end = bytes.byteLength;
  }

  /** A varint that must fit 32 bits unsigned (tags, lengths, uint32 values keep the low 32 bits). */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformed(this.what, "truncated varint");
      const b = this.buf[this.pos++] as number;
      if (shift < 32) result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result % 0x1_0000_0000;
      shift += 7;
    }
    throw malformed(this.what, "varint longer than 10 bytes");
  }

  u64(): bigint {
    let lo = 0;
    let shift = 0;
    const start = this.pos;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) throw malformed(this.what, "truncated varint");
      const b = this.buf[this.pos++] as number;
      lo += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return BigInt(lo);
      shift += 7;
    }
    // Rare: values of 2^49 and more.
    this.pos = start;
    let n = 0n;
    let s = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformed(this.what, "truncated varint");
      const b = this.buf[this.pos++] as number;
      n |= BigInt(b & 0x7f) << s;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, n);
      s += 7n;
    }
    throw malformed(this.what, "varint longer than 10 bytes");
  }

  lengthDelimitedEnd(): number {
    const len = this.u32();
    const end = this.pos + len;
    if (end > this.end) throw malformed(this.what, "length past the end of the frame");
    return end;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.u64();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos = this.lengthDelimitedEnd();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        throw malformed(this.what, `unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) throw malformed(this.what, "field past the end of the frame");
  }
}

function malformed(what: string, detail: string): LinkError {
  return new LinkError("malformed_frame", `${what}: ${detail}`);
}

/** Decodes a DeliveryBatch body; payloads are views into `bytes`, not copies. */
export function decodeDeliveryBatch(bytes: Uint8Array): { batchSeq: bigint; deliveries: Delivery[] } {
  const r = new Reader(bytes);
  let batchSeq = 0n;
  const deliveries: Delivery[] = [];
  while (r.pos < r.end) {
    const tag = r.u32();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === 0) batchSeq = r.u64();
    else if (field === 2 && wt === 2) deliveries.push(readDelivery(r, r.lengthDelimitedEnd()));
    else if (field === 1 || field === 2)
      throw malformed("DeliveryBatch", `field ${field} has wire type ${wt}`);
    else r.skip(wt);
  }
  return { batchSeq, deliveries };
}

function readDelivery(r: Reader, end: number): Delivery {
  let room = "";
  let seq = 0n;
  let payload: Uint8Array = EMPTY;
  let acceptedAtMs = 0;
  const outerEnd = r.end;
  r.end = end;
  while (r.pos < end) {
    const tag = r.u32();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === 2) {
      const e = r.lengthDelimitedEnd();
      room = r.buf.toString("utf8", r.pos, e);
      r.pos = e;
    } else if (field === 2 && wt === 0) {
      seq = r.u64();
    } else if (field === 4 && wt === 2) {
      const e = r.lengthDelimitedEnd();
      payload = r.buf.subarray(r.pos, e);
      r.pos = e;
    } else if (field === 5 && wt === 1) {
      if (r.pos + 8 > end) throw malformed("DeliveryBatch", "accepted_at_ms past the end of the Delivery");
      acceptedAtMs = r.buf.readDoubleLE(r.pos);
      r.pos += 8;
    } else if (field >= 1 && field <= 5 && field !== 3) {
      throw malformed("DeliveryBatch", `Delivery field ${field} has wire type ${wt}`);
    } else {
      r.skip(wt);
    }
  }
  r.end = outerEnd;
  if (r.pos !== end) throw malformed("DeliveryBatch", "Delivery overruns its length");
  return { $typeName: DELIVERY_TYPE, room, seq, payload, acceptedAtMs };
}

const EMPTY = new Uint8Array(0);

/**
 * Decodes a serialized LogicFrame. A oneof seen twice keeps the last value, as
 * protobuf does; unknown field numbers are ignored. Throws LinkError
 * malformed_frame for bytes that do not decode.
 */
export function decodeLogicFrame(bytes: Uint8Array): DecodedLogicFrame {
  let kind: DecodedLogicFrame = { case: undefined };
  try {
    const r = new Reader(bytes, "LogicFrame");
    while (r.pos < r.end) {
      const tag = r.u32();
      const no = tag >>> 3;
      const wt = tag & 7;
      if (no < 1 || no > 5) {
        r.skip(wt);
        continue;
      }
      if (wt !== 2) throw malformed("LogicFrame", `field ${no} has wire type ${wt}`);
      const end = r.lengthDelimitedEnd();
      const body = r.buf.subarray(r.pos, end);
      r.pos = end;
      switch (no) {
        case 1:
          kind = { case: "hello", value: fromBinary(LogicHelloSchema, body) };
          break;
        case 2:
          kind = { case: "deliveries", ...decodeDeliveryBatch(body) };
          break;
        case 3:
          kind = { case: "replies", value: fromBinary(ReplyBatchSchema, body) };
          break;
        case 4:
          kind = { case: "ping", value: fromBinary(PingSchema, body) };
          break;
        case 5:
          kind = { case: "pong", value: fromBinary(PongSchema, body) };
          break;
      }
    }
  } catch (err) {
    if (isLinkError(err)) throw err;
    throw new LinkError("malformed_frame", `LogicFrame: ${err instanceof Error ? err.message : String(err)}`);
  }
  return kind;
}

/** A GatewayFrame, serialized with the generated schema, in its gRPC envelope. */
export function gatewayFrameEnvelope(frame: GatewayFrame): Buffer {
  return envelope(toBinary(GatewayFrameSchema, frame));
}

/**
 * GatewayFrame{delivery_ack{through_batch_seq}} in its gRPC envelope, built
 * directly: one goes out per stream per event-loop turn while deliveries flow.
 */
export function deliveryAckFrame(throughBatchSeq: bigint): Buffer {
  let n = BigInt.asUintN(64, throughBatchSeq);
  let bodyLen = 0;
  if (n > 0n) {
    bodyLen = 2;
    for (let m = n; m >= 128n; m >>= 7n) bodyLen++;
  }
  const out = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + 2 + bodyLen);
  out[0] = 0;
  out.writeUInt32BE(2 + bodyLen, 1);
  let pos = ENVELOPE_HEADER_BYTES;
  out[pos++] = 0x2a; // field 5, length-delimited
  out[pos++] = bodyLen; // at most 11 bytes: a one-byte length
  if (bodyLen > 0) {
    out[pos++] = 0x08;
    while (n >= 128n) {
      out[pos++] = Number(n & 127n) | 128;
      n >>= 7n;
    }
    out[pos] = Number(n);
  }
  return out;
}
