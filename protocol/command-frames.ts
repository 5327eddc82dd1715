/**
 * Client protocol v1, what the team's backend does to a user's connections
 * through the server API (docs/protocol.md, docs/server-api.md): a room the
 * server subscribed them to, one it took them out of, and the reason for a
 * close. Logic builds each frame once; every connection it reaches gets the
 * same bytes.
 */

// ---- server -> client ----------------------------------------------------

/** The server made this connection a member of `room` (as if it had joined); messages after last_seq follow. */
export interface SubscribedFrame {
  type: "subscribed";
  room: string;
  /** The room's head when subscribed: resume with `since: last_seq` after a reconnect. */
  last_seq: number;
}
/** The server took this connection out of `room`. */
export interface UnsubscribedFrame {
  type: "unsubscribed";
  room: string;
}
/** Sent just before the server closes the connection with `code`. */
export interface DisconnectFrame {
  type: "disconnect";
  code: number;
  reason: string;
  /** Whether the client should reconnect (with backoff) or stop. */
  reconnect: boolean;
}

const utf8 = new TextEncoder();
type Seq = number | bigint;

export function encodeSubscribedFrame(room: string, lastSeq: Seq): Uint8Array {
  return utf8.encode(`{"type":"subscribed","room":${JSON.stringify(room)},"last_seq":${lastSeq}}`);
}

export function encodeUnsubscribedFrame(room: string): Uint8Array {
  return utf8.encode(`{"type":"unsubscribed","room":${JSON.stringify(room)}}`);
}

export function encodeDisconnectFrame(d: { code: number; reason: string; reconnect: boolean }): Uint8Array {
  const frame: DisconnectFrame = {
    type: "disconnect",
    code: d.code,
    reason: d.reason,
    reconnect: d.reconnect,
  };
  return utf8.encode(JSON.stringify(frame));
}
