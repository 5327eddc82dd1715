import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ClientEventBatchSchema,
  DeliveryAckSchema,
  type GatewayFrame,
  GatewayHelloSchema,
  GatewayStatusSchema,
  InterestDeltaSchema,
  InterestSnapshotSchema,
  type LogicFrame,
  LogicFrameSchema,
  PingSchema,
  PongSchema,
  type Reply,
  ReplySchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import {
  bigVarintSize,
  ENVELOPE_HEADER_BYTES,
  envelope,
  varintSize,
  WIRE_LEN,
  WireError,
  WireReader,
  writeBigVarint,
  writeVarint,
} from "../../../protocol/push-stream/index.ts";
import { decodeClientEventBatch } from "./event-decoder.ts";
import type { PrincipalMemo } from "./principal-memo.ts";

/**
 * Logic's side of the wire: hand-written encoders for the hot frames
 * (DeliveryBatch, ReplyBatch) producing exactly the bytes protobuf-es'
 * toBinary produces (tested in frame-codec.test.ts), and decoding of
 * GatewayFrames with the generated schemas, one field body at a time. The
 * primitives are shared with the gateway (protocol/push-stream).
 */

/** LogicFrame field numbers of the batch kinds built here. */
export const FIELD_DELIVERIES = 2;
export const FIELD_REPLIES = 3;
const MAX_U64 = (1n << 64n) - 1n;

/**
 * One message in a batch: `head` then `tail` are its encoded bytes. For a
 * Delivery the tail is the caller's payload itself, so the payload is copied
 * once, into the frame, however many gateways it goes to; for a Reply the
 * tail is empty.
 */
export interface Entry {
  readonly head: Uint8Array;
  readonly tail: Uint8Array;
  /** Fields numbered after the payload (Delivery.accepted_at_ms); usually empty. */
  readonly trail: Uint8Array;
  /** head + tail bytes: the message's length in its batch. */
  readonly size: number;
  /** Bytes the entry adds to its batch message: tag, length, body. */
  readonly wireSize: number;
}

const EMPTY = new Uint8Array(0);

function entry(head: Uint8Array, tail: Uint8Array, trail: Uint8Array = EMPTY): Entry {
  const size = head.byteLength + tail.byteLength + trail.byteLength;
  return { head, tail, trail, size, wireSize: 1 + varintSize(size) + size };
}

/**
 * One chatcluster.v1.Delivery, encoded once per deliverToRoom call and shared
 * by every gateway queue it goes to. The payload is referenced, not copied:
 * it must not change until written (handlers serialize a fresh one per message).
 */
export function encodeDelivery(room: string, seq: bigint, payload: Uint8Array, acceptedAtMs = 0): Entry {
  if (seq < 0n || seq > MAX_U64) throw new RangeError(`delivery seq ${seq} is not a uint64`);
  const roomLen = Buffer.byteLength(room, "utf8");
  const seqSmall = seq <= 0x1f_ffff_ffff_ffffn;
  const seqNum = seqSmall ? Number(seq) : 0;
  let size = 0;
  if (roomLen > 0) size += 1 + varintSize(roomLen) + roomLen;
  if (seq !== 0n) size += 1 + (seqSmall ? varintSize(seqNum) : bigVarintSize(seq));
  if (payload.byteLength > 0) size += 1 + varintSize(payload.byteLength);
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (roomLen > 0) {
    buf[pos++] = 0x0a;
    pos = writeVarint(buf, pos, roomLen);
    pos += buf.write(room, pos, "utf8");
  }
  if (seq !== 0n) {
    buf[pos++] = 0x10;
    pos = seqSmall ? writeVarint(buf, pos, seqNum) : writeBigVarint(buf, pos, seq);
  }
  if (payload.byteLength > 0) {
    buf[pos++] = 0x22;
    writeVarint(buf, pos, payload.byteLength);
  }
  // accepted_at_ms (field 5, fixed64 double) follows the payload, as in
  // protobuf's field order; like protobuf-es, only +0 counts as unset.
  let trail = EMPTY;
  if (!Object.is(acceptedAtMs, 0)) {
    const t = Buffer.allocUnsafe(9);
    t[0] = 0x29;
    t.writeDoubleLE(acceptedAtMs, 1);
    trail = t;
  }
  return entry(buf, payload.byteLength > 0 ? payload : EMPTY, trail);
}

const REPLY_FRAME_TAG = (12 << 3) | WIRE_LEN;
const REPLY_DONE = new Uint8Array([(14 << 3) | WIRE_LEN, 0]);

/**
 * One chatcluster.v1.Reply, encoded once when the handler answers. The two
 * kinds nearly every event gets, a client frame (acks, errors) and done, are
 * written directly, the frame referenced rather than copied; the others go
 * through the generated encoder. Equal to toBinary (frame-codec.test.ts).
 */
export function encodeReply(reply: Reply): Entry {
  const k = reply.kind;
  if (k.case !== "frame" && k.case !== "done") return entry(toBinary(ReplySchema, reply), EMPTY);
  const epochLen = Buffer.byteLength(reply.gatewayEpoch, "utf8");
  let size = 0;
  if (reply.eventId !== 0n) size += 1 + bigVarintSize(reply.eventId);
  if (reply.connectionId !== 0) size += 1 + varintSize(reply.connectionId);
  if (epochLen > 0) size += 1 + varintSize(epochLen) + epochLen;
  const frame = k.case === "frame" ? k.value : undefined;
  if (frame !== undefined) size += 1 + varintSize(frame.byteLength);
  else size += REPLY_DONE.byteLength;
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (reply.eventId !== 0n) {
    buf[pos++] = 0x08;
    pos = writeBigVarint(buf, pos, reply.eventId);
  }
  if (reply.connectionId !== 0) {
    buf[pos++] = 0x10;
    pos = writeVarint(buf, pos, reply.connectionId);
  }
  if (epochLen > 0) {
    buf[pos++] = 0x1a;
    pos = writeVarint(buf, pos, epochLen);
    pos += buf.write(reply.gatewayEpoch, pos, "utf8");
  }
  if (frame === undefined) {
    buf.set(REPLY_DONE, pos);
    return entry(buf, EMPTY);
  }
  buf[pos++] = REPLY_FRAME_TAG;
  writeVarint(buf, pos, frame.byteLength);
  return entry(buf, frame);
}

/** The enveloped size of batchFrame's frame for `bodySize` bytes of entries (their wireSize). */
export function batchFrameSize(
  field: typeof FIELD_DELIVERIES | typeof FIELD_REPLIES,
  batchSeq: number,
  bodySize: number,
): number {
  const seqSize = field === FIELD_DELIVERIES && batchSeq > 0 ? 1 + varintSize(batchSeq) : 0;
  const msgSize = seqSize + bodySize;
  return ENVELOPE_HEADER_BYTES + 1 + varintSize(msgSize) + msgSize;
}

/**
 * A LogicFrame carrying a DeliveryBatch (field 2) or a ReplyBatch (field 3)
 * made of `entries[start, end)`, in its gRPC envelope, ready to write;
 * `bodySize` is the sum of their wireSize. batchSeq is written only for
 * deliveries (field 1 of DeliveryBatch).
 */
export function batchFrame(
  field: typeof FIELD_DELIVERIES | typeof FIELD_REPLIES,
  batchSeq: number,
  entries: readonly Entry[],
  start: number,
  end: number,
  bodySize: number,
): Buffer {
  const out = Buffer.allocUnsafe(batchFrameSize(field, batchSeq, bodySize));
  writeBatchFrame(out, 0, field, batchSeq, entries, start, end, bodySize);
  return out;
}

/** batchFrame's bytes written into `out` at `at` (room for batchFrameSize); returns the position after them. */
export function writeBatchFrame(
  out: Buffer,
  at: number,
  field: typeof FIELD_DELIVERIES | typeof FIELD_REPLIES,
  batchSeq: number,
  entries: readonly Entry[],
  start: number,
  end: number,
  bodySize: number,
): number {
  // DeliveryBatch.deliveries is field 2, ReplyBatch.replies is field 1.
  const entryTag = field === FIELD_DELIVERIES ? 0x12 : 0x0a;
  const seqSize = field === FIELD_DELIVERIES && batchSeq > 0 ? 1 + varintSize(batchSeq) : 0;
  const msgSize = seqSize + bodySize;
  const frameSize = 1 + varintSize(msgSize) + msgSize;
  out[at] = 0;
  out.writeUInt32BE(frameSize, at + 1);
  out[at + ENVELOPE_HEADER_BYTES] = (field << 3) | WIRE_LEN;
  let pos = writeVarint(out, at + ENVELOPE_HEADER_BYTES + 1, msgSize);
  if (seqSize > 0) {
    out[pos++] = 0x08;
    pos = writeVarint(out, pos, batchSeq);
  }
  for (let i = start; i < end; i++) {
    const e = entries[i] as Entry;
    out[pos++] = entryTag;
    pos = writeVarint(out, pos, e.size);
    out.set(e.head, pos);
    pos += e.head.byteLength;
    if (e.tail.byteLength > 0) {
      out.set(e.tail, pos);
      pos += e.tail.byteLength;
    }
    if (e.trail.byteLength > 0) {
      out.set(e.trail, pos);
      pos += e.trail.byteLength;
    }
  }
  return pos;
}

/** Any other LogicFrame (hello, ping, pong) through the generated schema, in its envelope. */
export function logicFrameEnvelope(frame: LogicFrame): Buffer {
  return envelope(toBinary(LogicFrameSchema, frame));
}

const EVENT_BATCH_TYPE = "chatcluster.v1.ClientEventBatch" as const;

/**
 * Decodes a serialized GatewayFrame, one top-level field at a time. Event
 * batches go through the hand-written decoder with `memo` (event-decoder.ts);
 * without one, through the generated schema. A oneof
 * seen twice keeps the last value, as protobuf does; unknown field numbers are
 * ignored for forward compatibility. Throws WireError on malformed bytes.
 */
export function decodeGatewayFrame(bytes: Uint8Array, memo?: PrincipalMemo): GatewayFrame["kind"] {
  let kind: GatewayFrame["kind"] = { case: undefined };
  const r = new WireReader(bytes, "GatewayFrame");
  while (r.pos < r.end) {
    const tag = r.u32();
    const no = tag >>> 3;
    const wt = tag & 7;
    if (no < 1 || no > 8) {
      // Forward compatibility: skip fields a newer gateway may add.
      r.skip(wt);
      continue;
    }
    if (wt !== WIRE_LEN) throw r.error("wire_type", `field ${no} has wire type ${wt}`);
    const end = r.lengthDelimitedEnd();
    const body = r.buf.subarray(r.pos, end);
    r.pos = end;
    try {
      kind =
        no === 4 && memo !== undefined
          ? {
              case: "events",
              value: { $typeName: EVENT_BATCH_TYPE, events: decodeClientEventBatch(body, memo) },
            }
          : decodeKind(no, body);
    } catch (err) {
      if (err instanceof WireError) throw err;
      throw new WireError("invalid_message", "GatewayFrame", `field ${no}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return kind;
}

function decodeKind(no: number, body: Uint8Array): GatewayFrame["kind"] {
  switch (no) {
    case 1:
      return { case: "hello", value: fromBinary(GatewayHelloSchema, body) };
    case 2:
      return { case: "interestSnapshot", value: fromBinary(InterestSnapshotSchema, body) };
    case 3:
      return { case: "interestDelta", value: fromBinary(InterestDeltaSchema, body) };
    case 4:
      return { case: "events", value: fromBinary(ClientEventBatchSchema, body) };
    case 5:
      return { case: "deliveryAck", value: fromBinary(DeliveryAckSchema, body) };
    case 6:
      return { case: "ping", value: fromBinary(PingSchema, body) };
    case 7:
      return { case: "pong", value: fromBinary(PongSchema, body) };
    default:
      return { case: "status", value: fromBinary(GatewayStatusSchema, body) };
  }
}
