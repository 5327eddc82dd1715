import { randomUUID } from "node:crypto";
import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { type Value, ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  type BroadcastRequest,
  type BroadcastResponse,
  BroadcastResponseSchema,
  BroadcastResultSchema,
  type HistoryRequest,
  type HistoryResponse,
  HistoryResponseSchema,
  HistoryView,
  MessageKind,
  type PublishRequest,
  type PublishResponse,
  PublishResponseSchema,
  StoredMessageSchema,
} from "../../../gen/chatcluster/v1/chat_api_pb.js";
import { encodeMessageFrame } from "../../../protocol/index.ts";
import { messageIdProblem } from "../store/input-checks.ts";
import type { AppendResult, StoredMessage } from "../store/message-store.ts";
import type { ChatServiceDeps } from "./api-deps.ts";
import { callError, checkRoom, invalid, toConnectError } from "./api-errors.ts";

const DEFAULT_SENDER = "system";
/** Rooms one Broadcast may name. */
export const MAX_BROADCAST_ROOMS = 1000;
const encoder = new TextEncoder();

/** A message from a backend, checked once and serialized once whatever number of rooms it goes to. */
export interface Outgoing {
  readonly id: string;
  readonly from: string;
  readonly bodyText: string;
  readonly bodyBytes: Uint8Array;
}

export function outgoing(d: ChatServiceDeps, id: string, from: string, body: Value | undefined): Outgoing {
  const msgId = id === "" ? randomUUID() : id;
  if (messageIdProblem(msgId) !== undefined) throw invalid("id: 1 to 128 characters, no control characters");
  if (body === undefined) throw invalid("body is required (any JSON value)");
  const bodyText = JSON.stringify(toJson(ValueSchema, body));
  const bodyBytes = encoder.encode(bodyText);
  if (bodyBytes.byteLength > d.limits.maxBodyBytes)
    throw invalid(`body larger than ${d.limits.maxBodyBytes} bytes`);
  return { id: msgId, from: from === "" ? DEFAULT_SENDER : from, bodyText, bodyBytes };
}

/** Stores and delivers exactly like a client send: same store, same encode-once frame, same dedupe. */
async function publishTo(d: ChatServiceDeps, room: string, m: Outgoing): Promise<AppendResult> {
  const acceptedAtMs = performance.timeOrigin + performance.now();
  const r = await d.store.append(room, { id: m.id, from: m.from, body: m.bodyText });
  d.fleet.deliverToRoom(
    room,
    BigInt(r.seq),
    encodeMessageFrame({
      room,
      seq: r.seq,
      prev: r.prev,
      id: m.id,
      from: m.from,
      ts: r.ts,
      bodyJson: m.bodyBytes,
    }),
    acceptedAtMs,
  );
  d.metrics.messagesDelivered.inc();
  if (r.duplicate) d.metrics.duplicates.inc();
  return r;
}

export async function publish(d: ChatServiceDeps, req: PublishRequest): Promise<PublishResponse> {
  const room = checkRoom(req.room);
  const m = outgoing(d, req.id, req.from, req.body);
  const r = await publishTo(d, room, m);
  return create(PublishResponseSchema, {
    seq: BigInt(r.seq),
    prev: BigInt(r.prev),
    id: m.id,
    duplicate: r.duplicate,
  });
}

/**
 * One message for many rooms: checked and serialized once, then stored in
 * each room (its own seq there) in request order. A room that fails carries
 * its error in its result; the others still get the message.
 */
export async function broadcast(d: ChatServiceDeps, req: BroadcastRequest): Promise<BroadcastResponse> {
  if (req.rooms.length === 0 || req.rooms.length > MAX_BROADCAST_ROOMS)
    throw invalid(`rooms: 1 to ${MAX_BROADCAST_ROOMS}`);
  const rooms = req.rooms.map((r, i) => checkRoom(r, `rooms[${i}]`));
  if (new Set(rooms).size !== rooms.length) throw invalid("rooms: each room at most once");
  const m = outgoing(d, req.id, req.from, req.body);
  // Issued together: each room's append keeps its place in that room, and rooms do not wait for each other.
  const settled = await Promise.allSettled(rooms.map((room) => publishTo(d, room, m)));
  const results = settled.map((s, i) => {
    const room = rooms[i] as string;
    if (s.status === "fulfilled") {
      const r = s.value;
      return create(BroadcastResultSchema, {
        room,
        seq: BigInt(r.seq),
        prev: BigInt(r.prev),
        duplicate: r.duplicate,
      });
    }
    return create(BroadcastResultSchema, {
      room,
      error: callError(toConnectError(s.reason, d.log, "Broadcast")),
    });
  });
  return create(BroadcastResponseSchema, { results, id: m.id });
}

const KIND: Record<StoredMessage["kind"], MessageKind> = {
  message: MessageKind.MESSAGE,
  edit: MessageKind.EDIT,
  delete: MessageKind.DELETE,
};

/**
 * A page of the room's sequence: every event (messages, edits, deletes), or
 * with the current view the messages of the same range as they are now.
 */
export async function history(d: ChatServiceDeps, req: HistoryRequest): Promise<HistoryResponse> {
  const room = checkRoom(req.room);
  const max = d.limits.maxHistoryPage;
  const limit = req.limit === 0 ? max : Math.min(req.limit, max);
  const view = req.view === HistoryView.CURRENT ? "current" : "events";
  const page = await d.store.read(
    room,
    req.since === undefined ? { limit, view } : { since: Number(req.since), limit, view },
  );
  d.metrics.historyReads.inc({ source: "api" });
  d.metrics.historyMessages.observe(page.messages.length);
  return create(HistoryResponseSchema, {
    complete: page.complete,
    headSeq: BigInt(page.headSeq),
    lastSeq: BigInt(page.lastSeq),
    messages: page.messages.map((m) => {
      const absent = m.kind === "delete" || m.edit?.deleted === true;
      return create(StoredMessageSchema, {
        room,
        seq: BigInt(m.seq),
        prev: BigInt(m.prev),
        id: m.id,
        from: m.from,
        tsMs: BigInt(m.ts),
        kind: KIND[m.kind],
        target: BigInt(m.target),
        ...(absent ? {} : { body: fromJson(ValueSchema, JSON.parse(m.body) as JsonValue) }),
        ...(m.edit === undefined
          ? {}
          : { editSeq: BigInt(m.edit.seq), editedTsMs: BigInt(m.edit.ts), deleted: m.edit.deleted }),
      });
    }),
  });
}
