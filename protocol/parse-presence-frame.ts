import { ERROR_CODES } from "./client-frames.ts";
import type { ParseResult } from "./parse-result.ts";
import { PRESENCE_BOUNDS, SIGNAL_KIND_PATTERN } from "./presence-frames.ts";

type Obj = Record<string, unknown>;

function reject(message: string, room: string): ParseResult {
  return { kind: "reject", code: ERROR_CODES.invalidField.code, message, id: room };
}

function isUser(v: unknown): v is string {
  return typeof v === "string" && v.length > 0 && v.length <= PRESENCE_BOUNDS.maxUserIdLength;
}

/** The presence, signal, read and reads frames; `o.room` is already checked. */
export function parsePresenceFrame(o: Obj, room: string): ParseResult {
  switch (o.type) {
    case "presence": {
      if (o.after !== undefined && !isUser(o.after))
        return reject("presence.after must be a user id string", room);
      if (
        o.limit !== undefined &&
        !(
          typeof o.limit === "number" &&
          Number.isSafeInteger(o.limit) &&
          o.limit >= 1 &&
          o.limit <= PRESENCE_BOUNDS.maxPresencePage
        )
      )
        return reject("presence.limit must be an integer from 1 to 1000", room);
      const frame: ParseResult & { kind: "frame" } = { kind: "frame", frame: { type: "presence", room } };
      if (frame.frame.type === "presence") {
        if (o.after !== undefined) frame.frame.after = o.after as string;
        if (o.limit !== undefined) frame.frame.limit = o.limit as number;
      }
      return frame;
    }
    case "signal": {
      if (typeof o.kind !== "string" || !SIGNAL_KIND_PATTERN.test(o.kind))
        return reject("signal.kind must be 1..32 of [A-Za-z0-9_.:-]", room);
      if (o.body === undefined) return { kind: "frame", frame: { type: "signal", room, kind: o.kind } };
      return { kind: "frame", frame: { type: "signal", room, kind: o.kind, body: o.body } };
    }
    case "read": {
      if (typeof o.seq !== "number" || !Number.isSafeInteger(o.seq) || o.seq < 1)
        return reject("read.seq must be a positive integer", room);
      if (o.notify !== undefined && o.notify !== "room" && o.notify !== "self")
        return reject('read.notify must be "room" or "self"', room);
      const notify = o.notify === "self" ? "self" : "room";
      return { kind: "frame", frame: { type: "read", room, seq: o.seq, notify } };
    }
    default: {
      const users = o.users;
      if (users === undefined) return { kind: "frame", frame: { type: "reads", room } };
      if (!Array.isArray(users) || users.length > PRESENCE_BOUNDS.maxReadsUsers || !users.every(isUser))
        return reject("reads.users must be an array of at most 100 user ids", room);
      return { kind: "frame", frame: { type: "reads", room, users: users as string[] } };
    }
  }
}
