/**
 * Client protocol v1: JSON text frames over the WebSocket subprotocol
 * `chatcluster.v1`. Shared by the gateway (parses client frames, builds
 * welcome/pong/reconnect/error), the logic tier (builds joined/ack/error/message
 * once per message) and the SDK (types). docs/protocol.md is the prose twin.
 *
 * Server frames that fan out are built by concatenating already-serialized
 * parts: the message body is never parsed or re-encoded after the sender's
 * gateway validated it.
 */
import type { CallFrame, ResultFrame } from "./call-frames.ts";
import type { DisconnectFrame, SubscribedFrame, UnsubscribedFrame } from "./command-frames.ts";
import type { DeleteFrame, EditFrame } from "./edit-frames.ts";
import type {
  PresenceChangeFrame,
  PresencePageFrame,
  PresenceQueryFrame,
  ReadEventFrame,
  ReadFrame,
  ReadsPageFrame,
  ReadsQueryFrame,
  SignalEventFrame,
  SignalFrame,
} from "./presence-frames.ts";

export const SUBPROTOCOL = "chatcluster.v1";

// ---- client -> server ----------------------------------------------------

export interface AuthFrame {
  type: "auth";
  token: string;
}
export interface JoinFrame {
  type: "join";
  room: string;
  /** Resume after this sequence number; absent means "the latest page". */
  since?: number;
  /** Maximum history messages; the server clamps it. */
  limit?: number;
  /** Receive `presence_change` frames for this room (docs/presence.md). */
  presence?: boolean;
}
export interface LeaveFrame {
  type: "leave";
  room: string;
}
export interface SendFrame {
  type: "send";
  room: string;
  /** Client message id, unique per sender; resending the same id never duplicates. */
  id: string;
  body: unknown;
}
export interface PingFrame {
  type: "ping";
  /** Echoed in the pong; any number the client likes (e.g. its clock). */
  ts?: number;
}
export type ClientFrame =
  | AuthFrame
  | JoinFrame
  | LeaveFrame
  | SendFrame
  | PingFrame
  | PresenceQueryFrame
  | SignalFrame
  | ReadFrame
  | ReadsQueryFrame
  | CallFrame
  | EditFrame
  | DeleteFrame;

// ---- server -> client ----------------------------------------------------

export interface WireLimits {
  max_frame_bytes: number;
  messages_per_second: number;
  message_burst: number;
  max_rooms: number;
}
export interface WelcomeFrame {
  type: "welcome";
  user: string;
  connection_id: string;
  heartbeat_ms: number;
  limits: WireLimits;
}
export interface MessageFrame {
  type: "message";
  room: string;
  seq: number;
  /** seq of the previous message in the room (0 for the first). */
  prev: number;
  /** The sender's client message id. */
  id: string;
  /** The sender's user id. */
  from: string;
  /** Server time the message was stored, ms since the Unix epoch. */
  ts: number;
  /** Absent for a message; an edit (body: the new body) or a delete (body: null) of the message `target`. */
  kind?: "edit" | "delete";
  /** For an edit or a delete: the seq of the message it acts on. */
  target?: number;
  body: unknown;
}
export interface JoinedFrame {
  type: "joined";
  room: string;
  /** seq of the last message in `messages`, or `since` (or the room head) when empty. */
  last_seq: number;
  /** True when `messages` reaches the live head: nothing between the page and live traffic. */
  complete: boolean;
  /** Oldest first. */
  messages: MessageFrame[];
  /** What the team's Join hook attached, when it did (docs/hooks.md). */
  data?: unknown;
}
export interface AckFrame {
  type: "ack";
  id: string;
  room: string;
  seq: number;
}
export interface ErrorFrame {
  type: "error";
  code: string;
  message: string;
  /** The client message id (send) or room (join/leave) the error answers, when there is one. */
  id?: string;
  /** For retryable errors: wait at least this long before retrying. */
  retry_after_ms?: number;
}
export interface PongFrame {
  type: "pong";
  ts?: number;
}
export interface ReconnectFrame {
  type: "reconnect";
  /** Close and reconnect (to any gateway) after this many milliseconds. */
  after_ms: number;
}
/** Why the server ended a membership the client did not leave. */
export type LeftReason =
  /** The connection's token (after a refresh) no longer grants read access to the room. */
  "forbidden";
export interface LeftFrame {
  type: "left";
  room: string;
  reason: LeftReason;
}
export type ServerFrame =
  | WelcomeFrame
  | MessageFrame
  | JoinedFrame
  | AckFrame
  | ErrorFrame
  | PongFrame
  | ReconnectFrame
  | LeftFrame
  | PresencePageFrame
  | PresenceChangeFrame
  | SignalEventFrame
  | ReadEventFrame
  | ReadsPageFrame
  | ResultFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | DisconnectFrame;

// ---- error codes (the `code` of an error frame) ----------------------------

export interface ErrorCode {
  readonly code: string;
  /** True when sending the same frame again later can succeed. */
  readonly retryable: boolean;
}
function errorCode(code: string, retryable: boolean): ErrorCode {
  return Object.freeze({ code, retryable });
}
export const ERROR_CODES = Object.freeze({
  unknownType: errorCode("unknown_type", false),
  invalidField: errorCode("invalid_field", false),
  notAuthenticated: errorCode("not_authenticated", false),
  rateLimited: errorCode("rate_limited", true),
  unavailable: errorCode("unavailable", true),
  tooManyRooms: errorCode("too_many_rooms", false),
  notJoined: errorCode("not_joined", false),
  forbidden: errorCode("forbidden", false),
  notFound: errorCode("not_found", false),
  bodyTooLarge: errorCode("body_too_large", false),
  internal: errorCode("internal", true),
} as const);

const RETRYABLE = new Set(
  Object.values(ERROR_CODES)
    .filter((e) => e.retryable)
    .map((e) => e.code),
);
export function isRetryableError(code: string): boolean {
  return RETRYABLE.has(code);
}

// ---- limits ----------------------------------------------------------------

/** Protocol-level bounds that do not depend on deployment config. */
export const PROTOCOL_BOUNDS = Object.freeze({
  maxRoomLength: 128,
  maxClientMsgIdLength: 64,
  maxTokenLength: 8192,
  maxHistoryLimit: 1000,
  /** Close reasons are limited to 123 bytes by RFC 6455. */
  maxCloseReasonBytes: 123,
});
/** Room names: segments of [A-Za-z0-9_-:@] separated by single dots. No wildcards. */
export const ROOM_PATTERN = /^[A-Za-z0-9_\-:@]+(\.[A-Za-z0-9_\-:@]+)*$/;

/**
 * How long a client resends one `send` by default before it gives the send
 * up (the SDK's `retryHorizonMs`, counted from the first transmission). The
 * server stores a resent id once only within its idempotency window, which
 * must therefore exceed this plus the server's store timeout.
 */
export const DEFAULT_RETRY_HORIZON_MS = 60_000;

export const DEFAULT_WIRE_LIMITS: Readonly<WireLimits> = Object.freeze({
  max_frame_bytes: 64 * 1024,
  messages_per_second: 20,
  message_burst: 40,
  max_rooms: 100,
});

// ---- builders: each serializes a server frame exactly once ------------------

const utf8 = new TextEncoder();
type Seq = number | bigint;
/** Already-serialized JSON: UTF-8 bytes or a string. Never parsed here. */
export type JsonText = Uint8Array | string;

function bytesOf(json: JsonText): Uint8Array {
  return typeof json === "string" ? utf8.encode(json) : json;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

const CLOSE_BRACE = utf8.encode("}");

export interface MessageFrameInput {
  room: string;
  seq: Seq;
  prev: Seq;
  id: string;
  from: string;
  ts: number;
  /** An edit or a delete of the message `target` (absent for a message). */
  kind?: "edit" | "delete" | undefined;
  target?: Seq | undefined;
  /** The body exactly as the gateway forwarded it (SendRequest.body). */
  bodyJson: JsonText;
}
/** `{"type":"message",...,"body":<bodyJson>}` with the body bytes copied, not re-encoded. */
export function encodeMessageFrame(m: MessageFrameInput): Uint8Array {
  const edit = m.kind === undefined ? "" : `"kind":"${m.kind}","target":${m.target},`;
  const head =
    `{"type":"message","room":${JSON.stringify(m.room)},"seq":${m.seq},"prev":${m.prev},` +
    `"id":${JSON.stringify(m.id)},"from":${JSON.stringify(m.from)},"ts":${m.ts},${edit}"body":`;
  return concat([utf8.encode(head), bytesOf(m.bodyJson), CLOSE_BRACE]);
}

export interface JoinedFrameInput {
  room: string;
  lastSeq: Seq;
  complete: boolean;
  /** Message frames as encodeMessageFrame produced them (stored bytes can be reused), oldest first. */
  messages: readonly JsonText[];
  /** JSON text attached by the Join hook, copied as is. */
  dataJson?: JsonText | undefined;
}
export function encodeJoinedFrame(j: JoinedFrameInput): Uint8Array {
  const parts: Uint8Array[] = [
    utf8.encode(
      `{"type":"joined","room":${JSON.stringify(j.room)},"last_seq":${j.lastSeq},` +
        `"complete":${j.complete},"messages":[`,
    ),
  ];
  const comma = utf8.encode(",");
  j.messages.forEach((m, i) => {
    if (i > 0) parts.push(comma);
    parts.push(bytesOf(m));
  });
  if (j.dataJson === undefined) {
    parts.push(utf8.encode("]}"));
  } else {
    parts.push(utf8.encode(`],"data":`), bytesOf(j.dataJson), CLOSE_BRACE);
  }
  return concat(parts);
}

export function encodeAckFrame(a: { id: string; room: string; seq: Seq }): Uint8Array {
  return utf8.encode(
    `{"type":"ack","id":${JSON.stringify(a.id)},"room":${JSON.stringify(a.room)},"seq":${a.seq}}`,
  );
}

export interface ErrorFrameInput {
  code: string;
  message: string;
  id?: string | undefined;
  retryAfterMs?: number | undefined;
}
export function encodeErrorFrame(e: ErrorFrameInput): Uint8Array {
  const frame: ErrorFrame = { type: "error", code: e.code, message: e.message };
  if (e.id !== undefined) frame.id = e.id;
  if (e.retryAfterMs !== undefined) frame.retry_after_ms = Math.max(0, Math.ceil(e.retryAfterMs));
  return utf8.encode(JSON.stringify(frame));
}

export function encodeWelcomeFrame(w: Omit<WelcomeFrame, "type">): Uint8Array {
  const frame: WelcomeFrame = { type: "welcome", ...w };
  return utf8.encode(JSON.stringify(frame));
}

export function encodePongFrame(ts: number | undefined): Uint8Array {
  return utf8.encode(ts === undefined ? `{"type":"pong"}` : `{"type":"pong","ts":${ts}}`);
}

export function encodeLeftFrame(room: string, reason: LeftReason): Uint8Array {
  return utf8.encode(`{"type":"left","room":${JSON.stringify(room)},"reason":"${reason}"}`);
}

export function encodeReconnectFrame(afterMs: number): Uint8Array {
  return utf8.encode(`{"type":"reconnect","after_ms":${Math.max(0, Math.round(afterMs))}}`);
}
