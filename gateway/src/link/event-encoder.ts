import { type DescField, type DescMessage, toBinary } from "@bufbuild/protobuf";
import {
  type ClientEvent,
  ClientEventSchema,
  type Principal,
  PrincipalSchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import {
  bigVarintSize,
  ENVELOPE_HEADER_BYTES,
  varintSize,
  WIRE_LEN,
  writeBigVarint,
  writeVarint,
} from "../../../protocol/push-stream/index.ts";

/**
 * The gateway's hot encoder: one ClientEvent into the bytes toBinary would
 * produce (frame-codec.test.ts checks every kind against it), and a batch of
 * encoded events into one GatewayFrame in its envelope.
 *
 * What it saves per event: the generated encoder's walk over the schema, and
 * above all the principal, which every event of a connection carries
 * unchanged (user id, room patterns, expiry, a 32-byte signature): it is
 * encoded once per principal object (the edge keeps one per connection) and
 * copied after that. A send's request is written directly; the other kinds,
 * rare next to sends, go through the generated encoder of their message.
 */

/** Encoded Principal messages, by the object the connection holds (garbage-collected with it). */
const principals = new WeakMap<Principal, Uint8Array>();

/** ClientEvent.kind's field number and message schema, by case. */
const KIND_FIELDS = new Map<string, { no: number; schema: DescMessage }>(
  ClientEventSchema.fields
    .filter(
      (f): f is DescField & { fieldKind: "message" } => f.oneof?.name === "kind" && f.fieldKind === "message",
    )
    .map((f) => [f.localName, { no: f.number, schema: f.message }]),
);
const FIELD_SEND = KIND_FIELDS.get("send")?.no as number;
const FIELD_PRINCIPAL = 3;
const utf8 = new TextEncoder();

function principalBytes(p: Principal): Uint8Array {
  let b = principals.get(p);
  if (b === undefined) {
    b = toBinary(PrincipalSchema, p);
    principals.set(p, b);
  }
  return b;
}

function lenFieldSize(no: number, len: number): number {
  return varintSize(no << 3) + varintSize(len) + len;
}

/** ClientEvent's bytes, equal to toBinary(ClientEventSchema, e). */
export function encodeClientEvent(e: ClientEvent): Uint8Array {
  const k = e.kind;
  let kindNo = 0;
  let kindBytes: Uint8Array | undefined;
  let room: Uint8Array | undefined;
  let id: Uint8Array | undefined;
  let sendSize = 0;
  if (k.case === "send") {
    kindNo = FIELD_SEND;
    const v = k.value;
    room = utf8.encode(v.room);
    id = utf8.encode(v.clientMsgId);
    if (room.byteLength > 0) sendSize += 1 + varintSize(room.byteLength) + room.byteLength;
    if (id.byteLength > 0) sendSize += 1 + varintSize(id.byteLength) + id.byteLength;
    if (v.body.byteLength > 0) sendSize += 1 + varintSize(v.body.byteLength) + v.body.byteLength;
  } else if (k.case !== undefined) {
    const f = KIND_FIELDS.get(k.case);
    if (f === undefined) return toBinary(ClientEventSchema, e);
    kindNo = f.no;
    kindBytes = toBinary(f.schema, k.value);
  }
  const p = e.principal === undefined ? undefined : principalBytes(e.principal);
  let size = 0;
  if (e.eventId !== 0n) size += 1 + bigVarintSize(e.eventId);
  if (e.connectionId !== 0) size += 1 + varintSize(e.connectionId);
  if (p !== undefined) size += lenFieldSize(FIELD_PRINCIPAL, p.byteLength);
  if (kindNo !== 0) size += lenFieldSize(kindNo, kindBytes?.byteLength ?? sendSize);
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (e.eventId !== 0n) {
    buf[pos++] = 0x08;
    pos = writeBigVarint(buf, pos, e.eventId);
  }
  if (e.connectionId !== 0) {
    buf[pos++] = 0x10;
    pos = writeVarint(buf, pos, e.connectionId);
  }
  if (p !== undefined) {
    buf[pos++] = (FIELD_PRINCIPAL << 3) | WIRE_LEN;
    pos = writeVarint(buf, pos, p.byteLength);
    buf.set(p, pos);
    pos += p.byteLength;
  }
  if (kindNo === 0) return buf;
  pos = writeVarint(buf, pos, (kindNo << 3) | WIRE_LEN);
  if (kindBytes !== undefined) {
    pos = writeVarint(buf, pos, kindBytes.byteLength);
    buf.set(kindBytes, pos);
    return buf;
  }
  pos = writeVarint(buf, pos, sendSize);
  const body = (k.value as { body: Uint8Array }).body;
  for (const [tag, bytes] of [
    [0x0a, room],
    [0x12, id],
    [0x1a, body],
  ] as const) {
    if (bytes === undefined || bytes.byteLength === 0) continue;
    buf[pos++] = tag;
    pos = writeVarint(buf, pos, bytes.byteLength);
    buf.set(bytes, pos);
    pos += bytes.byteLength;
  }
  return buf;
}

/** GatewayFrame field of ClientEventBatch. */
const FRAME_EVENTS_TAG = (4 << 3) | WIRE_LEN;
/** ClientEventBatch.events. */
const BATCH_EVENT_TAG = (1 << 3) | WIRE_LEN;

/** GatewayFrame{events: ClientEventBatch{events}} from encoded events, in its gRPC envelope. */
export function eventBatchFrame(events: readonly Uint8Array[]): Buffer {
  let batch = 0;
  for (const e of events) batch += 1 + varintSize(e.byteLength) + e.byteLength;
  const frame = 1 + varintSize(batch) + batch;
  const out = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + frame);
  out[0] = 0;
  out.writeUInt32BE(frame, 1);
  let pos = ENVELOPE_HEADER_BYTES;
  out[pos++] = FRAME_EVENTS_TAG;
  pos = writeVarint(out, pos, batch);
  for (const e of events) {
    out[pos++] = BATCH_EVENT_TAG;
    pos = writeVarint(out, pos, e.byteLength);
    out.set(e, pos);
    pos += e.byteLength;
  }
  return out;
}
