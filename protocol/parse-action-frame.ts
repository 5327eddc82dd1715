import { CALL_BOUNDS, METHOD_PATTERN } from "./call-frames.ts";
import { ERROR_CODES, PROTOCOL_BOUNDS } from "./client-frames.ts";
import type { ParseResult } from "./parse-result.ts";

type Obj = Record<string, unknown>;

function reject(message: string, id?: string): ParseResult {
  return id === undefined
    ? { kind: "reject", code: ERROR_CODES.invalidField.code, message }
    : { kind: "reject", code: ERROR_CODES.invalidField.code, message, id };
}

/** The `call` frame. */
export function parseCallFrame(o: Obj): ParseResult {
  const id = o.id;
  if (typeof id !== "string" || id.length === 0 || id.length > CALL_BOUNDS.maxCallIdLength)
    return reject("call.id must be a string of 1..64 characters");
  const method = o.method;
  if (
    typeof method !== "string" ||
    method.length > CALL_BOUNDS.maxMethodLength ||
    !METHOD_PATTERN.test(method)
  )
    return reject("call.method must be dot-separated [A-Za-z0-9_-:@] segments, at most 128 characters", id);
  if (o.params === undefined) return { kind: "frame", frame: { type: "call", id, method } };
  return { kind: "frame", frame: { type: "call", id, method, params: o.params } };
}

/** The `edit` and `delete` frames; `o.room` is already checked. */
export function parseEditFrame(o: Obj, room: string): ParseResult {
  const type = o.type === "edit" ? "edit" : "delete";
  const id = o.id;
  if (typeof id !== "string" || id.length === 0 || id.length > PROTOCOL_BOUNDS.maxClientMsgIdLength)
    return reject(`${type}.id must be a string of 1..64 characters`, room);
  const target = o.target;
  if (typeof target !== "number" || !Number.isSafeInteger(target) || target < 1)
    return reject(`${type}.target must be the seq of a message (a positive integer)`, id);
  if (type === "delete") return { kind: "frame", frame: { type, room, id, target } };
  if (!("body" in o) || o.body === undefined) return reject("edit.body is required", id);
  return { kind: "frame", frame: { type, room, id, target, body: o.body } };
}
