import { fromBinary } from "@bufbuild/protobuf";
import {
  type ClientEvent,
  ClientEventSchema,
  type SendRequest,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { WIRE_LEN, WIRE_VARINT, WireReader } from "../../../protocol/push-stream/index.ts";
import type { PrincipalMemo } from "./principal-memo.ts";

/**
 * Logic's hot decoder: a ClientEventBatch into ClientEvents equal to what
 * fromBinary produces (event-decoder.test.ts). Sends, most of the traffic,
 * are read field by field with their principal from the memo; an event of
 * any other kind, or one laid out unusually (a field repeated, which protobuf
 * merges), goes through the generated decoder, its principal still taken
 * from the memo. A send's body is a view into the received frame, not a copy.
 */

const EVENT_TYPE = "chatcluster.v1.ClientEvent" as const;
const SEND_TYPE = "chatcluster.v1.SendRequest" as const;
const FIELD_PRINCIPAL = 3;
const FIELD_SEND = 11;
const EMPTY = new Uint8Array(0);

/** ClientEventBatch.events, decoded. Throws WireError (or the generated decoder's Error) on malformed bytes. */
export function decodeClientEventBatch(bytes: Uint8Array, memo: PrincipalMemo): ClientEvent[] {
  const r = new WireReader(bytes, "ClientEventBatch");
  const events: ClientEvent[] = [];
  while (r.pos < r.end) {
    const tag = r.u32();
    if (tag >>> 3 === 1 && (tag & 7) === WIRE_LEN) {
      const end = r.lengthDelimitedEnd();
      events.push(decodeEvent(r, end, memo));
      r.pos = end;
    } else if (tag >>> 3 === 1) {
      throw r.error("wire_type", `ClientEventBatch field 1 has wire type ${tag & 7}`);
    } else {
      r.skip(tag & 7);
    }
  }
  return events;
}

function decodeEvent(r: WireReader, end: number, memo: PrincipalMemo): ClientEvent {
  const start = r.pos;
  const outerEnd = r.end;
  r.end = end;
  let eventId = 0n;
  let connectionId = 0;
  let pStart = -1;
  let pEnd = -1;
  let send: SendRequest | undefined;
  let generic = false;
  while (r.pos < end && !generic) {
    const tag = r.u32();
    const no = tag >>> 3;
    const wt = tag & 7;
    if (no === 1 && wt === WIRE_VARINT) eventId = r.u64();
    else if (no === 2 && wt === WIRE_VARINT) connectionId = r.u32();
    else if (no === FIELD_PRINCIPAL && wt === WIRE_LEN && pStart === -1) {
      pEnd = r.lengthDelimitedEnd();
      pStart = r.pos;
      r.pos = pEnd;
    } else if (no === FIELD_SEND && wt === WIRE_LEN && send === undefined) {
      send = decodeSend(r, r.lengthDelimitedEnd());
      generic = send === undefined;
    } else {
      // Another kind, a field a newer gateway added, a wrong wire type or a
      // message field seen twice (protobuf merges it): the generated decoder
      // does exactly what protobuf does.
      generic = true;
    }
  }
  r.end = outerEnd;
  const principal = pStart === -1 ? undefined : memo.decode(r.buf, pStart, pEnd);
  if (generic) {
    const e = fromBinary(
      ClientEventSchema,
      new Uint8Array(r.buf.buffer, r.buf.byteOffset + start, end - start),
    );
    // The memo's object when the event has exactly one principal field (as every gateway writes it).
    if (principal !== undefined && e.principal !== undefined && !hasSecondPrincipal(r.buf, start, end))
      e.principal = principal;
    return e;
  }
  const e: ClientEvent = {
    $typeName: EVENT_TYPE,
    eventId,
    connectionId,
    kind: send === undefined ? { case: undefined } : { case: "send", value: send },
  };
  // Absent rather than undefined when unset, as the generated decoder leaves it.
  if (principal !== undefined) e.principal = principal;
  return e;
}

/** A SendRequest of the three known fields; undefined when it has others (the generated decoder keeps them). */
function decodeSend(r: WireReader, end: number): SendRequest | undefined {
  const outerEnd = r.end;
  r.end = end;
  let room = "";
  let clientMsgId = "";
  let body: Uint8Array = EMPTY;
  while (r.pos < end) {
    const tag = r.u32();
    const no = tag >>> 3;
    const wt = tag & 7;
    if (no < 1 || no > 3 || wt !== WIRE_LEN) {
      r.pos = end;
      r.end = outerEnd;
      return undefined;
    }
    const e = r.lengthDelimitedEnd();
    if (no === 3) body = new Uint8Array(r.buf.buffer, r.buf.byteOffset + r.pos, e - r.pos);
    else if (no === 1) room = r.buf.toString("utf8", r.pos, e);
    else clientMsgId = r.buf.toString("utf8", r.pos, e);
    r.pos = e;
  }
  r.end = outerEnd;
  return { $typeName: SEND_TYPE, room, clientMsgId, body };
}

/** Whether a ClientEvent's bytes hold the principal field more than once (then protobuf merges them). */
function hasSecondPrincipal(buf: Buffer, start: number, end: number): boolean {
  const r = new WireReader(buf.subarray(start, end), "ClientEvent");
  let seen = 0;
  while (r.pos < r.end) {
    const tag = r.u32();
    if (tag >>> 3 === FIELD_PRINCIPAL && (tag & 7) === WIRE_LEN && ++seen > 1) return true;
    r.skip(tag & 7);
  }
  return false;
}
