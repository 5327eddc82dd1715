import type { AppendInput } from "./message-store.ts";
import { StoreError } from "./store-error.ts";

/**
 * What every store accepts, checked once here so the JetStream subject and
 * header encodings and the SQLite columns never see surprising input.
 */

/** Room names: `.`-separated non-empty segments (the syntax room patterns match). */
export const MAX_ROOM_BYTES = 255;
/** Message ids travel in a NATS header and a SQLite unique index. */
export const MAX_MESSAGE_ID_LENGTH = 128;
export const MAX_SENDER_LENGTH = 256;

// `*` and `>` are pattern wildcards; whitespace and control characters would break
// subjects and headers and only confuse people reading logs.
const BAD_ROOM_CHAR = /[\s*>\p{Cc}]/u;
const BAD_ID_CHAR = /[\p{Cc}]/u;

/** Returns why `room` is not a valid room name, or undefined when it is. */
export function roomProblem(room: string): string | undefined {
  if (room.length === 0) return "room is empty";
  if (Buffer.byteLength(room) > MAX_ROOM_BYTES) return `room is longer than ${MAX_ROOM_BYTES} bytes`;
  if (BAD_ROOM_CHAR.test(room)) return "room contains whitespace, a control character, `*` or `>`";
  if (room.startsWith(".") || room.endsWith(".") || room.includes("..")) return "room has an empty segment";
  return undefined;
}

/** Returns why `id` is not a valid message id, or undefined when it is. */
export function messageIdProblem(id: string): string | undefined {
  if (id.length === 0) return "id is empty";
  if (id.length > MAX_MESSAGE_ID_LENGTH) return `id is longer than ${MAX_MESSAGE_ID_LENGTH} characters`;
  if (BAD_ID_CHAR.test(id)) return "id contains a control character";
  return undefined;
}

export function checkRoom(room: string): void {
  const problem = roomProblem(room);
  if (problem !== undefined) throw new StoreError("invalid_argument", problem);
}

export function checkAppend(room: string, input: AppendInput): void {
  checkRoom(room);
  const problem = messageIdProblem(input.id);
  if (problem !== undefined) throw new StoreError("invalid_argument", problem);
  const from = input.from;
  if (from.length === 0 || from.length > MAX_SENDER_LENGTH || BAD_ID_CHAR.test(from)) {
    throw new StoreError("invalid_argument", "from is empty, too long or contains a control character");
  }
  const target = input.target ?? 0;
  if (input.kind === undefined ? target !== 0 : !(Number.isSafeInteger(target) && target >= 1))
    throw new StoreError("invalid_argument", "an edit or delete needs the target seq; a message has none");
}

export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new StoreError("invalid_argument", "limit must be >= 1");
}
