/**
 * Client protocol v1, calls (docs/protocol.md, docs/hooks.md): a client asks
 * the team's backend something through the Rpc hook and gets the answer
 * alone. Builders serialize each server frame once; a result is copied as the
 * hook's JSON text, never re-encoded.
 */

/** Bounds of a call. */
export const CALL_BOUNDS = Object.freeze({
  maxCallIdLength: 64,
  maxMethodLength: 128,
});
/** Method names: dot-separated segments of [A-Za-z0-9_-:@], like room names. */
export const METHOD_PATTERN = /^[A-Za-z0-9_\-:@]+(\.[A-Za-z0-9_\-:@]+)*$/;

// ---- client -> server ----------------------------------------------------

/** Calls `method` of the team's Rpc hook; answered with `result` or `error` carrying the same id. */
export interface CallFrame {
  type: "call";
  /** Client-chosen, 1..64 characters; echoed in the answer. */
  id: string;
  method: string;
  /** Any JSON value; absent is null. */
  params?: unknown;
}

// ---- server -> client ----------------------------------------------------

export interface ResultFrame {
  type: "result";
  /** The call's id. */
  id: string;
  /** The hook's answer (null when it gave none). */
  result: unknown;
}

const utf8 = new TextEncoder();

/** `{"type":"result","id":<string>,"result":<json>}` with the result text copied as is. */
export function encodeResultFrame(id: string, resultJson: string): Uint8Array {
  return utf8.encode(`{"type":"result","id":${JSON.stringify(id)},"result":${resultJson}}`);
}
