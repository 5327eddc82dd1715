import { type ClientFrame, ERROR_CODES, PROTOCOL_BOUNDS, ROOM_PATTERN } from "./client-frames.ts";
import { parseCallFrame, parseEditFrame } from "./parse-action-frame.ts";
import { parsePresenceFrame } from "./parse-presence-frame.ts";
import type { ParseResult } from "./parse-result.ts";

type Obj = Record<string, unknown>;

function reject(code: string, message: string, id?: string): ParseResult {
  return id === undefined ? { kind: "reject", code, message } : { kind: "reject", code, message, id };
}

function checkRoom(o: Obj, id?: string): ParseResult | null {
  const room = o.room;
  if (typeof room !== "string" || room.length === 0 || room.length > PROTOCOL_BOUNDS.maxRoomLength)
    return reject(ERROR_CODES.invalidField.code, `room must be a string of 1..128 characters`, id);
  if (!ROOM_PATTERN.test(room))
    return reject(ERROR_CODES.invalidField.code, `room must be dot-separated [A-Za-z0-9_-:@] segments`, id);
  return null;
}

function isSeq(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** Validates one client text frame (see ParseResult for the three outcomes). */
export function parseClientFrame(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: "malformed", message: "frame is not valid JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { kind: "malformed", message: "frame is not a JSON object" };
  const o = value as Obj;
  switch (o.type) {
    case "auth": {
      const t = o.token;
      if (typeof t !== "string" || t.length === 0 || t.length > PROTOCOL_BOUNDS.maxTokenLength)
        return {
          kind: "reject",
          code: ERROR_CODES.invalidField.code,
          message: "auth.token must be a non-empty string",
          type: "auth",
        };
      return { kind: "frame", frame: { type: "auth", token: t } };
    }
    case "join": {
      const bad = checkRoom(o, typeof o.room === "string" ? o.room : undefined);
      if (bad) return bad;
      const room = o.room as string;
      if (o.since !== undefined && !isSeq(o.since))
        return reject(ERROR_CODES.invalidField.code, "join.since must be a non-negative integer", room);
      if (
        o.limit !== undefined &&
        !(isSeq(o.limit) && o.limit >= 1 && o.limit <= PROTOCOL_BOUNDS.maxHistoryLimit)
      )
        return reject(ERROR_CODES.invalidField.code, "join.limit must be an integer from 1 to 1000", room);
      if (o.presence !== undefined && typeof o.presence !== "boolean")
        return reject(ERROR_CODES.invalidField.code, "join.presence must be a boolean", room);
      const frame: ClientFrame = { type: "join", room };
      if (o.since !== undefined) frame.since = o.since as number;
      if (o.limit !== undefined) frame.limit = o.limit as number;
      if (o.presence === true) frame.presence = true;
      return { kind: "frame", frame };
    }
    case "leave": {
      const bad = checkRoom(o, typeof o.room === "string" ? o.room : undefined);
      if (bad) return bad;
      return { kind: "frame", frame: { type: "leave", room: o.room as string } };
    }
    case "send": {
      const id = o.id;
      if (typeof id !== "string" || id.length === 0 || id.length > PROTOCOL_BOUNDS.maxClientMsgIdLength)
        return reject(ERROR_CODES.invalidField.code, "send.id must be a string of 1..64 characters");
      const bad = checkRoom(o, id);
      if (bad) return bad;
      if (!("body" in o) || o.body === undefined)
        return reject(ERROR_CODES.invalidField.code, "send.body is required", id);
      return { kind: "frame", frame: { type: "send", room: o.room as string, id, body: o.body } };
    }
    case "ping": {
      if (o.ts !== undefined && (typeof o.ts !== "number" || !Number.isFinite(o.ts)))
        return reject(ERROR_CODES.invalidField.code, "ping.ts must be a number");
      return { kind: "frame", frame: o.ts === undefined ? { type: "ping" } : { type: "ping", ts: o.ts } };
    }
    case "presence":
    case "signal":
    case "read":
    case "reads": {
      const bad = checkRoom(o, typeof o.room === "string" ? o.room : undefined);
      if (bad) return bad;
      return parsePresenceFrame(o, o.room as string);
    }
    case "call":
      return parseCallFrame(o);
    case "edit":
    case "delete": {
      const bad = checkRoom(o, typeof o.id === "string" ? o.id : undefined);
      if (bad) return bad;
      return parseEditFrame(o, o.room as string);
    }
    default:
      return reject(
        ERROR_CODES.unknownType.code,
        typeof o.type === "string" ? `unknown frame type "${o.type.slice(0, 32)}"` : "frame.type is missing",
      );
  }
}
