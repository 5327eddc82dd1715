import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import {
  type DeleteMessageRequest,
  type DeleteMessageResponse,
  DeleteMessageResponseSchema,
  type EditMessageRequest,
  type EditMessageResponse,
  EditMessageResponseSchema,
} from "../../../gen/chatcluster/v1/chat_api_pb.js";
import { encodeMessageFrame } from "../../../protocol/index.ts";
import { currentMessage, editProblem } from "../store/current-message.ts";
import { messageIdProblem } from "../store/input-checks.ts";
import type { ChatServiceDeps } from "./api-deps.ts";
import { checkRoom, invalid, notFound } from "./api-errors.ts";
import { outgoing } from "./message-calls.ts";

const DEFAULT_EDITOR = "system";

/** The target must be a message of the room that is not deleted; the backend may change anyone's. */
async function checkTarget(d: ChatServiceDeps, room: string, seq: bigint): Promise<number> {
  if (seq < 1n || seq > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid("seq: the seq of a message (>= 1)");
  const target = Number(seq);
  const problem = editProblem(await currentMessage(d.store, room, target), target);
  if (problem !== undefined) throw notFound(problem.message);
  return target;
}

/** Stores the edit or delete event, delivers it to the room like a message, and answers where it landed. */
async function store(
  d: ChatServiceDeps,
  room: string,
  e: {
    id: string;
    from: string;
    kind: "edit" | "delete";
    target: number;
    bodyText: string;
    bodyBytes: Uint8Array | string;
  },
) {
  const acceptedAtMs = performance.timeOrigin + performance.now();
  const r = await d.store.append(room, {
    id: e.id,
    from: e.from,
    body: e.bodyText,
    kind: e.kind,
    target: e.target,
  });
  const frame = encodeMessageFrame({
    room,
    seq: r.seq,
    prev: r.prev,
    id: e.id,
    from: e.from,
    ts: r.ts,
    kind: e.kind,
    target: e.target,
    bodyJson: e.bodyBytes,
  });
  d.fleet.deliverToRoom(room, BigInt(r.seq), frame, acceptedAtMs);
  d.metrics.messagesDelivered.inc();
  if (r.duplicate) d.metrics.duplicates.inc();
  return { seq: BigInt(r.seq), prev: BigInt(r.prev), id: e.id, duplicate: r.duplicate };
}

/** A new body for any message of the room: a new event in its sequence (idempotent on the edit's id). */
export async function editMessage(d: ChatServiceDeps, req: EditMessageRequest): Promise<EditMessageResponse> {
  const room = checkRoom(req.room);
  const m = outgoing(d, req.id, req.from === "" ? DEFAULT_EDITOR : req.from, req.body);
  const target = await checkTarget(d, room, req.seq);
  const r = await store(d, room, { ...m, kind: "edit", target });
  return create(EditMessageResponseSchema, r);
}

/** Deletes any message of the room: a new event in its sequence (idempotent on the delete's id). */
export async function deleteMessage(
  d: ChatServiceDeps,
  req: DeleteMessageRequest,
): Promise<DeleteMessageResponse> {
  const room = checkRoom(req.room);
  const id = req.id === "" ? randomUUID() : req.id;
  if (messageIdProblem(id) !== undefined) throw invalid("id: 1 to 128 characters, no control characters");
  const target = await checkTarget(d, room, req.seq);
  const from = req.from === "" ? DEFAULT_EDITOR : req.from;
  const r = await store(d, room, { id, from, kind: "delete", target, bodyText: "null", bodyBytes: "null" });
  return create(DeleteMessageResponseSchema, r);
}
