import type { JoinedFrame, MessageFrame } from "../../protocol/client-frames.ts";

/** What the client remembers of one room across connections. */
export interface RoomState {
  /** Highest seq delivered to the app (0 = none yet). */
  lastSeq: number;
  /** A join for this room is in flight on the current connection. */
  joining: boolean;
  /** Received a joined frame at least once: later joins resume with since. */
  everJoined: boolean;
  /** Joined with presence changes (kept across reconnects). */
  presence: boolean;
}

/** The join frame that resumes a room. */
export interface JoinFrameOut {
  type: "join";
  room: string;
  since?: number;
  presence?: boolean;
}

/** What to do with a live message. */
export type MessageVerdict =
  /** New and in order: hand it to the app (lastSeq moved). */
  | "deliver"
  /** Already delivered (history/live overlap, a resend): drop. */
  | "duplicate"
  /** Something between lastSeq and the message's prev was lost: join again from lastSeq. */
  | "gap"
  /** Not a room the app joined. */
  | "unknown";

/**
 * The rooms the app joined and how far each was delivered: every message
 * once and in order per room. Duplicates (seq at or below lastSeq) are
 * dropped, a gap (prev above lastSeq) asks for a resume, and every join after
 * the first resumes with `since: lastSeq`, so the history page fills what the
 * client missed while away.
 */
export class RoomTracker {
  readonly #rooms = new Map<string, RoomState>();

  /** Adds the room (since: resume after that seq) or updates its presence flag. */
  join(room: string, since: number | undefined, presence: boolean): RoomState {
    let r = this.#rooms.get(room);
    if (!r) {
      r = { lastSeq: since ?? 0, joining: false, everJoined: since !== undefined, presence: false };
      this.#rooms.set(room, r);
    }
    r.presence = presence;
    return r;
  }

  /**
   * The server subscribed this connection to the room (server API Subscribe):
   * its messages after `lastSeq` are live, and a reconnect resumes it like a
   * joined room. A room already tracked keeps its own position.
   */
  subscribed(room: string, lastSeq: number): void {
    if (this.#rooms.has(room)) return;
    this.#rooms.set(room, { lastSeq, joining: false, everJoined: true, presence: false });
  }

  /** Forgets the room; false when it was not joined. */
  leave(room: string): boolean {
    return this.#rooms.delete(room);
  }

  get(room: string): RoomState | undefined {
    return this.#rooms.get(room);
  }

  entries(): IterableIterator<[string, RoomState]> {
    return this.#rooms.entries();
  }

  /** The connection is gone: no join is in flight any more. */
  connectionLost(): void {
    for (const r of this.#rooms.values()) r.joining = false;
  }

  /** The join (or resume) frame for the room; marks its join in flight. */
  joinFrame(room: string, r: RoomState): JoinFrameOut {
    r.joining = true;
    const frame: JoinFrameOut = { type: "join", room };
    if (r.everJoined) frame.since = r.lastSeq;
    if (r.presence) frame.presence = true;
    return frame;
  }

  /** Judges a live message; on "deliver" the room's lastSeq is the message's seq. */
  accept(m: MessageFrame): MessageVerdict {
    const r = this.#rooms.get(m.room);
    if (!r) return "unknown";
    if (m.seq <= r.lastSeq) return "duplicate";
    if (r.everJoined && m.prev > r.lastSeq) return "gap";
    r.lastSeq = m.seq;
    return "deliver";
  }

  /** A joined page: returns its messages not yet delivered, in order (lastSeq moved past them). */
  joined(j: JoinedFrame): MessageFrame[] | undefined {
    const r = this.#rooms.get(j.room);
    if (!r) return undefined;
    r.joining = false;
    const fresh: MessageFrame[] = [];
    for (const m of j.messages) {
      if (m.seq <= r.lastSeq) continue;
      r.lastSeq = m.seq;
      fresh.push(m);
    }
    if (j.last_seq > r.lastSeq) r.lastSeq = j.last_seq;
    r.everJoined = true;
    return fresh;
  }

  /**
   * The server refused the room's join in flight: a retryable refusal keeps
   * the room (returned, for a retry later), any other forgets it. Undefined
   * when no join of that room was in flight.
   */
  joinRefused(room: string, retryable: boolean): RoomState | undefined {
    const r = this.#rooms.get(room);
    if (!r?.joining) return undefined;
    r.joining = false;
    if (retryable) return r;
    this.#rooms.delete(room);
    return undefined;
  }
}
