/**
 * WebSocket close codes of client protocol v1, one table for the gateway, the
 * logic tier and the SDK. The `name` is the stable string used in metrics labels,
 * logs and documentation; the numeric code is what travels on the wire.
 *
 * `reconnect` tells a client whether reconnecting can help without a change on
 * its side ("backoff" = yes, with capped exponential backoff and full jitter;
 * "token" = only with a fresh token; "never" = a bug or a permanent refusal).
 */
export type ReconnectPolicy = "backoff" | "token" | "never";

export interface CloseCode {
  readonly code: number;
  readonly name: string;
  readonly reconnect: ReconnectPolicy;
  readonly description: string;
}

function closeCode(code: number, name: string, reconnect: ReconnectPolicy, description: string): CloseCode {
  return Object.freeze({ code, name, reconnect, description });
}

export const CLOSE_CODES = Object.freeze({
  normal: closeCode(1000, "normal", "never", "The client or server ended the session on purpose."),
  goingAway: closeCode(1001, "going_away", "backoff", "The peer is going away (tab closed, process exit)."),
  protocolError: closeCode(
    1002,
    "protocol_error",
    "never",
    "A WebSocket protocol violation (e.g. unmasked frame).",
  ),
  abnormal: closeCode(1006, "abnormal", "backoff", "No close frame: the TCP connection dropped."),
  invalidUtf8: closeCode(1007, "invalid_utf8", "never", "A text frame that is not valid UTF-8."),
  frameTooLarge: closeCode(1009, "frame_too_large", "never", "A frame exceeded limits.max_frame_bytes."),
  internalError: closeCode(1011, "internal_error", "backoff", "Unexpected server error."),
  badFrame: closeCode(4000, "bad_frame", "never", "Binary frame, malformed JSON or not a JSON object."),
  unauthorized: closeCode(4001, "unauthorized", "token", "Missing, invalid or rejected token."),
  tokenExpired: closeCode(4002, "token_expired", "token", "The token expired during the session."),
  forbidden: closeCode(4003, "forbidden", "never", "The principal may not use this service."),
  authTimeout: closeCode(4004, "auth_timeout", "backoff", "No auth frame (or no auth answer) in time."),
  unsupportedProtocol: closeCode(
    4005,
    "unsupported_protocol",
    "never",
    "The client did not offer subprotocol chatcluster.v1.",
  ),
  disconnected: closeCode(
    4006,
    "disconnected",
    "backoff",
    "The team's backend disconnected this connection; a `disconnect` frame before says whether to reconnect.",
  ),
  banned: closeCode(4007, "banned", "never", "The user is banned (until the ban ends)."),
  rateLimited: closeCode(4008, "rate_limited", "backoff", "Sustained traffic above the per-connection rate."),
  slowConsumer: closeCode(4009, "slow_consumer", "backoff", "The client did not read fast enough."),
  heartbeatTimeout: closeCode(4010, "heartbeat_timeout", "backoff", "No pong to the server's pings."),
  draining: closeCode(4012, "draining", "backoff", "The gateway is shutting down; reconnect elsewhere."),
  overloaded: closeCode(4013, "overloaded", "backoff", "The gateway or logic tier cannot take more now."),
} as const);

export type CloseCodeKey = keyof typeof CLOSE_CODES;

const BY_NUMBER: ReadonlyMap<number, CloseCode> = new Map(Object.values(CLOSE_CODES).map((c) => [c.code, c]));

/** The table entry for a numeric code, or undefined for a code outside the table. */
export function closeCodeByNumber(code: number): CloseCode | undefined {
  return BY_NUMBER.get(code);
}

/** Stable name for a numeric close code; "other" for codes outside the table (bounded label set). */
export function closeCodeName(code: number): string {
  return BY_NUMBER.get(code)?.name ?? "other";
}

/** Every name closeCodeName can return, for pre-initialising metric labels. */
export const CLOSE_CODE_NAMES: readonly string[] = Object.freeze([
  ...Object.values(CLOSE_CODES).map((c) => c.name),
  "other",
]);
