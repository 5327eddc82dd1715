import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type ConnectionCommand,
  ConnectionCommandSchema,
  type Delivery,
  type Done,
  DoneSchema,
  type GatewayFrame,
  GatewayFrameSchema,
  type LogicFrame,
  LogicHelloSchema,
  PingSchema,
  PongSchema,
  type Reply,
  ReplySchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import {
  bigVarintSize,
  ENVELOPE_HEADER_BYTES,
  envelope,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_VARINT,
  WireError,
  WireReader,
  writeBigVarint,
} from "../../../protocol/push-stream/index.ts";
import { isLinkError, LinkError } from "./link-error.ts";

/**
 * The gateway's side of the wire: a hand-written decoder for DeliveryBatch
 * (the hot frame; equal to fromBinary, see frame-codec.test.ts) that keeps
 * payloads as views into the received frame, the DeliveryAck built by hand,
 * and the generated schemas for everything else. The primitives are shared
 * with logic (protocol/push-stream); a WireError becomes LinkError
 * malformed_frame here.
 */

const DELIVERY_TYPE = "chatcluster.v1.Delivery" as const;

/** A LogicFrame as the link consumes it: batches decoded by hand, the rest generated. */
export type DecodedLogicFrame =
  | { case: "deliveries"; batchSeq: bigint; deliveries: Delivery[] }
  | Exclude<LogicFrame["kind"], { case: "deliveries" }>;

/** Decodes a DeliveryBatch body; payloads are views into `bytes`, not copies. Throws LinkError malformed_frame. */
export function decodeDeliveryBatch(bytes: Uint8Array): { batchSeq: bigint; deliveries: Delivery[] } {
  try {
    return readDeliveryBatch(bytes);
  } catch (err) {
    throw asLinkError(err);
  }
}

function readDeliveryBatch(bytes: Uint8Array): { batchSeq: bigint; deliveries: Delivery[] } {
  const r = new WireReader(bytes, "DeliveryBatch");
  let batchSeq = 0n;
  const deliveries: Delivery[] = [];
  while (r.pos < r.end) {
    const tag = r.u32();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === WIRE_VARINT) batchSeq = r.u64();
    else if (field === 2 && wt === WIRE_LEN) deliveries.push(readDelivery(r, r.lengthDelimitedEnd()));
    else if (field === 1 || field === 2) throw r.error("wire_type", `field ${field} has wire type ${wt}`);
    else r.skip(wt);
  }
  return { batchSeq, deliveries };
}

function readDelivery(r: WireReader, end: number): Delivery {
  let room = "";
  let seq = 0n;
  let payload: Uint8Array = EMPTY;
  let acceptedAtMs = 0;
  let command: ConnectionCommand | undefined;
  const outerEnd = r.end;
  r.end = end;
  while (r.pos < end) {
    const tag = r.u32();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === WIRE_LEN) {
      const e = r.lengthDelimitedEnd();
      room = r.buf.toString("utf8", r.pos, e);
      r.pos = e;
    } else if (field === 2 && wt === WIRE_VARINT) {
      seq = r.u64();
    } else if (field === 4 && wt === WIRE_LEN) {
      const e = r.lengthDelimitedEnd();
      payload = r.buf.subarray(r.pos, e);
      r.pos = e;
    } else if (field === 5 && wt === WIRE_FIXED64) {
      acceptedAtMs = r.double();
    } else if (field === 6 && wt === WIRE_LEN) {
      // Rare (server API commands): the generated decoder is fine here.
      const e = r.lengthDelimitedEnd();
      command = fromBinary(ConnectionCommandSchema, r.buf.subarray(r.pos, e));
      r.pos = e;
    } else if (field >= 1 && field <= 6 && field !== 3) {
      // Field 3 (connection_ids, retired) is skipped like any unknown field.
      throw r.error("wire_type", `Delivery field ${field} has wire type ${wt}`);
    } else {
      r.skip(wt);
    }
  }
  r.end = outerEnd;
  const d: Delivery = { $typeName: DELIVERY_TYPE, room, seq, payload, acceptedAtMs };
  if (command !== undefined) d.command = command;
  return d;
}

const EMPTY = new Uint8Array(0);
const REPLY_TYPE = "chatcluster.v1.Reply" as const;
const REPLY_BATCH_TYPE = "chatcluster.v1.ReplyBatch" as const;
const DONE: Done = create(DoneSchema);

/** Decodes a ReplyBatch body; equal to fromBinary (frame-codec.test.ts). Throws WireError or the generated decoder's Error. */
export function decodeReplyBatch(bytes: Uint8Array): Reply[] {
  try {
    return readReplyBatch(bytes);
  } catch (err) {
    throw asLinkError(err, "ReplyBatch");
  }
}

function readReplyBatch(bytes: Uint8Array): Reply[] {
  const r = new WireReader(bytes, "ReplyBatch");
  const replies: Reply[] = [];
  while (r.pos < r.end) {
    const tag = r.u32();
    if (tag === 0x0a) {
      const end = r.lengthDelimitedEnd();
      replies.push(readReply(r, end));
      r.pos = end;
    } else if (tag >>> 3 === 1) {
      throw r.error("wire_type", `ReplyBatch field 1 has wire type ${tag & 7}`);
    } else {
      r.skip(tag & 7);
    }
  }
  return replies;
}

/**
 * One Reply. The kinds nearly every event gets, a client frame (a view into
 * the received bytes, not a copy) and done, are read here; anything else (an
 * auth or join result, a close, a field protobuf would merge) goes through the
 * generated decoder.
 */
function readReply(r: WireReader, end: number): Reply {
  const start = r.pos;
  const outerEnd = r.end;
  r.end = end;
  let eventId = 0n;
  let connectionId = 0;
  let gatewayEpoch = "";
  let kind: Reply["kind"] = { case: undefined };
  let generic = false;
  while (r.pos < end && !generic) {
    const tag = r.u32();
    if (tag === 0x08) eventId = r.u64();
    else if (tag === 0x10) connectionId = r.u32();
    else if (tag === 0x1a) {
      const e = r.lengthDelimitedEnd();
      gatewayEpoch = r.buf.toString("utf8", r.pos, e);
      r.pos = e;
    } else if (tag === 0x62) {
      const e = r.lengthDelimitedEnd();
      kind = { case: "frame", value: new Uint8Array(r.buf.buffer, r.buf.byteOffset + r.pos, e - r.pos) };
      r.pos = e;
    } else if (tag === 0x72 && r.pos < end && r.buf[r.pos] === 0) {
      r.pos++;
      kind = { case: "done", value: DONE };
    } else {
      generic = true;
    }
  }
  r.end = outerEnd;
  if (generic)
    return fromBinary(ReplySchema, new Uint8Array(r.buf.buffer, r.buf.byteOffset + start, end - start));
  return { $typeName: REPLY_TYPE, eventId, connectionId, gatewayEpoch, kind };
}

/**
 * Decodes a serialized LogicFrame. A oneof seen twice keeps the last value, as
 * protobuf does; unknown field numbers are ignored. Throws LinkError
 * malformed_frame for bytes that do not decode.
 */
export function decodeLogicFrame(bytes: Uint8Array): DecodedLogicFrame {
  let kind: DecodedLogicFrame = { case: undefined };
  try {
    const r = new WireReader(bytes, "LogicFrame");
    while (r.pos < r.end) {
      const tag = r.u32();
      const no = tag >>> 3;
      const wt = tag & 7;
      if (no < 1 || no > 5) {
        r.skip(wt);
        continue;
      }
      if (wt !== WIRE_LEN) throw r.error("wire_type", `field ${no} has wire type ${wt}`);
      const end = r.lengthDelimitedEnd();
      const body = r.buf.subarray(r.pos, end);
      r.pos = end;
      switch (no) {
        case 1:
          kind = { case: "hello", value: fromBinary(LogicHelloSchema, body) };
          break;
        case 2:
          kind = { case: "deliveries", ...readDeliveryBatch(body) };
          break;
        case 3:
          kind = { case: "replies", value: { $typeName: REPLY_BATCH_TYPE, replies: readReplyBatch(body) } };
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
    throw asLinkError(err, "LogicFrame");
  }
  return kind;
}

/** A decoding failure as the status that ends the stream: LinkError malformed_frame. */
function asLinkError(err: unknown, what?: string): LinkError {
  if (isLinkError(err)) return err;
  if (err instanceof WireError) return new LinkError("malformed_frame", err.message, err);
  // The generated decoder's own errors (a nested message that does not decode).
  const detail = err instanceof Error ? err.message : String(err);
  return new LinkError("malformed_frame", what === undefined ? detail : `${what}: ${detail}`, err);
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
  const n = BigInt.asUintN(64, throughBatchSeq);
  // DeliveryAck{through_batch_seq}: empty when 0, else tag 0x08 and the varint (at most 11 bytes).
  const bodyLen = n === 0n ? 0 : 1 + bigVarintSize(n);
  const out = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + 2 + bodyLen);
  out[0] = 0;
  out.writeUInt32BE(2 + bodyLen, 1);
  let pos = ENVELOPE_HEADER_BYTES;
  out[pos++] = 0x2a; // GatewayFrame field 5, length-delimited
  out[pos++] = bodyLen; // a one-byte length
  if (bodyLen > 0) {
    out[pos++] = 0x08;
    writeBigVarint(out, pos, n);
  }
  return out;
}
