/**
 * Client protocol v1, presence and ephemeral signals (docs/presence.md):
 * the presence query and its page, presence changes, signals and read
 * markers. Builders serialize each server frame once; a signal body is copied
 * as the gateway validated it, never re-encoded.
 */

// ---- client -> server ----------------------------------------------------

/** Who is in a room now: a page of user ids (sorted) and the exact total. */
export interface PresenceQueryFrame {
  type: "presence";
  room: string;
  /** Continue after this user id (the previous page's `next`). */
  after?: string;
  /** Page size, 1..1000; the server clamps it. */
  limit?: number;
}
/** An ephemeral signal for the room's other members: never stored, never replayed. */
export interface SignalFrame {
  type: "signal";
  room: string;
  /** What it means, e.g. `typing`: 1..32 of [A-Za-z0-9_.:-]. */
  kind: string;
  /** Optional small JSON value (at most 1 KiB serialized). */
  body?: unknown;
}
/** Read markers: set (seq >= 1) or ask (`reads`). */
export interface ReadFrame {
  type: "read";
  room: string;
  /** The last seq the user has read; markers only move forward. */
  seq: number;
  /** `room` (default): every member of the room gets a `read` frame; `self`: every connection of this user. */
  notify?: "room" | "self";
}
export interface ReadsQueryFrame {
  type: "reads";
  room: string;
  /** Whose markers (at most 100); absent means the connection's own user. */
  users?: string[];
}

// ---- server -> client ----------------------------------------------------

export interface PresencePageFrame {
  type: "presence";
  room: string;
  /** Distinct users online in the room now (a user with several connections counts once). */
  total: number;
  /** Sorted by id. */
  users: string[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}
/** Sent to connections that joined the room with `presence: true`. */
export interface PresenceChangeFrame {
  type: "presence_change";
  room: string;
  user: string;
  state: "joined" | "left";
}
export interface SignalEventFrame {
  type: "signal";
  room: string;
  kind: string;
  /** The sender's user id. */
  from: string;
  /** The sender's connection (`<gateway>/<id>`); an SDK drops its own. */
  connection: string;
  body?: unknown;
}
export interface ReadEventFrame {
  type: "read";
  room: string;
  user: string;
  /** The user's read marker after the update (never lower than before). */
  seq: number;
}
export interface ReadsPageFrame {
  type: "reads";
  room: string;
  /** user id -> last read seq; users without a marker are absent. */
  markers: Record<string, number>;
}

export const PRESENCE_BOUNDS = Object.freeze({
  maxSignalKindLength: 32,
  maxSignalBodyBytes: 1024,
  maxPresencePage: 1000,
  defaultPresencePage: 100,
  maxReadsUsers: 100,
  maxUserIdLength: 256,
});
export const SIGNAL_KIND_PATTERN = /^[A-Za-z0-9_.:-]{1,32}$/;

/**
 * Suffix of the gateway's interest key for a room's presence subscribers
 * (`<room>#presence`). `#` never occurs in a room name (ROOM_PATTERN), so
 * the key cannot collide with a room.
 */
export const PRESENCE_INTEREST_SUFFIX = "#presence";
export function presenceInterestKey(room: string): string {
  return room + PRESENCE_INTEREST_SUFFIX;
}

/**
 * Interest key every authenticated connection of a user is indexed under
 * (`#user:<id>`), so logic can reach the user's devices on every gateway
 * (a read marker set with notify `self`). A room name never contains `#`.
 */
export const USER_INTEREST_PREFIX = "#user:";
export function userInterestKey(userId: string): string {
  return USER_INTEREST_PREFIX + userId;
}

// ---- builders --------------------------------------------------------------

const utf8 = new TextEncoder();

export function encodePresencePageFrame(p: {
  room: string;
  total: number;
  users: readonly string[];
  next?: string | undefined;
}): Uint8Array {
  const frame: PresencePageFrame = { type: "presence", room: p.room, total: p.total, users: [...p.users] };
  if (p.next !== undefined) frame.next = p.next;
  return utf8.encode(JSON.stringify(frame));
}

export function encodePresenceChangeFrame(room: string, user: string, state: "joined" | "left"): Uint8Array {
  return utf8.encode(
    `{"type":"presence_change","room":${JSON.stringify(room)},"user":${JSON.stringify(user)},"state":"${state}"}`,
  );
}

/** `bodyJson` is the JSON text the gateway validated (empty: no body). */
export function encodeSignalFrame(s: {
  room: string;
  kind: string;
  from: string;
  connection: string;
  bodyJson: Uint8Array;
}): Uint8Array {
  const head = utf8.encode(
    `{"type":"signal","room":${JSON.stringify(s.room)},"kind":${JSON.stringify(s.kind)},` +
      `"from":${JSON.stringify(s.from)},"connection":${JSON.stringify(s.connection)}`,
  );
  if (s.bodyJson.byteLength === 0) {
    const out = new Uint8Array(head.byteLength + 1);
    out.set(head);
    out[head.byteLength] = 0x7d;
    return out;
  }
  const mid = utf8.encode(`,"body":`);
  const out = new Uint8Array(head.byteLength + mid.byteLength + s.bodyJson.byteLength + 1);
  out.set(head);
  out.set(mid, head.byteLength);
  out.set(s.bodyJson, head.byteLength + mid.byteLength);
  out[out.byteLength - 1] = 0x7d;
  return out;
}

export function encodeReadEventFrame(r: { room: string; user: string; seq: number }): Uint8Array {
  return utf8.encode(
    `{"type":"read","room":${JSON.stringify(r.room)},"user":${JSON.stringify(r.user)},"seq":${r.seq}}`,
  );
}

export function encodeReadsPageFrame(room: string, markers: ReadonlyMap<string, number>): Uint8Array {
  const frame: ReadsPageFrame = { type: "reads", room, markers: Object.fromEntries(markers) };
  return utf8.encode(JSON.stringify(frame));
}
