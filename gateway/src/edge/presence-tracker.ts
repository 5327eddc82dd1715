/**
 * This gateway's share of room presence: per room, user -> number of local
 * connections whose join logic accepted. Only transitions leave the process:
 * a user's first connection in a room reports `online`; the last one leaving
 * reports `offline` after `graceMs`, unless a connection of the same user
 * joins the room again first (a flapping client emits nothing). Logic merges
 * the reports of every gateway epoch (docs/presence.md).
 *
 * No timer per user: pending departures sit in one Map in deadline order
 * (every entry waits the same grace), and the edge's tick pops the due ones.
 */
/** Hands a report to the link; false when it was refused (no logic stream, pending set full). */
export type PresenceEmit = (room: string, user: string, online: boolean) => boolean;

/** Reports of a reannounce handed to the link per tick, so a large gateway does not flood it. */
const REANNOUNCE_PER_TICK = 5_000;

export class PresenceTracker {
  readonly #rooms = new Map<string, Map<string, number>>();
  /** `room \0 user` -> deadline (ms); insertion order is deadline order. */
  readonly #leaving = new Map<string, number>();
  readonly #graceMs: number;
  readonly #emit: PresenceEmit;
  /** Keys still to report online again, and how far the reports got. */
  #reannounce: string[] = [];
  #reannounceAt = 0;

  constructor(graceMs: number, emit: PresenceEmit) {
    this.#graceMs = graceMs;
    this.#emit = emit;
  }

  /** Local users present in `room` (each counted once). */
  count(room: string): number {
    return this.#rooms.get(room)?.size ?? 0;
  }

  /** Departures waiting for their grace period to pass. */
  get pendingDepartures(): number {
    return this.#leaving.size;
  }

  add(room: string, user: string): void {
    let users = this.#rooms.get(room);
    if (users === undefined) {
      users = new Map();
      this.#rooms.set(room, users);
    }
    const n = users.get(user) ?? 0;
    users.set(user, n + 1);
    if (n > 0) return;
    // Back within the grace period: logic still has the user online here.
    if (this.#leaving.delete(key(room, user))) return;
    this.#emit(room, user, true);
  }

  remove(room: string, user: string, now: number): void {
    const users = this.#rooms.get(room);
    const n = users?.get(user);
    if (users === undefined || n === undefined) return;
    if (n > 1) {
      users.set(user, n - 1);
      return;
    }
    users.delete(user);
    if (users.size === 0) this.#rooms.delete(room);
    this.#leaving.set(key(room, user), now + this.#graceMs);
  }

  /** Reports the departures whose grace period has passed, then the next part of a reannounce. */
  tick(now: number): void {
    for (const [k, deadline] of this.#leaving) {
      if (deadline > now) break;
      this.#leaving.delete(k);
      this.#report(k);
    }
    this.#continueReannounce();
  }

  /** Reports every pending departure now (the gateway is going away). */
  flush(): void {
    for (const k of this.#leaving.keys()) this.#report(k);
    this.#leaving.clear();
  }

  /**
   * Reports every user logic should have online from this gateway again: the
   * present ones and those still in their grace period (their departure
   * follows as usual). For a lease that lapsed (no logic stream for longer
   * than its TTL): logic may have expired this epoch's entries meanwhile.
   * Reports go out from here and from the following ticks, at most
   * REANNOUNCE_PER_TICK each; a refused one is retried at the next tick.
   * Returns how many users are to be reported.
   */
  reannounce(): number {
    const keys: string[] = [];
    for (const [room, users] of this.#rooms) for (const user of users.keys()) keys.push(key(room, user));
    for (const k of this.#leaving.keys()) keys.push(k);
    this.#reannounce = keys;
    this.#reannounceAt = 0;
    this.#continueReannounce();
    return keys.length;
  }

  /** Users still waiting for their reannounce report. */
  get pendingReannounce(): number {
    return this.#reannounce.length - this.#reannounceAt;
  }

  #continueReannounce(): void {
    const keys = this.#reannounce;
    const end = Math.min(keys.length, this.#reannounceAt + REANNOUNCE_PER_TICK);
    while (this.#reannounceAt < end) {
      const k = keys[this.#reannounceAt] as string;
      const i = k.indexOf("\0");
      const room = k.slice(0, i);
      const user = k.slice(i + 1);
      // Gone entirely since (its departure was reported): nothing to say.
      if (this.#rooms.get(room)?.has(user) || this.#leaving.has(k)) {
        if (!this.#emit(room, user, true)) return;
      }
      this.#reannounceAt++;
    }
    if (this.#reannounceAt >= keys.length && keys.length > 0) {
      this.#reannounce = [];
      this.#reannounceAt = 0;
    }
  }

  #report(k: string): void {
    const i = k.indexOf("\0");
    this.#emit(k.slice(0, i), k.slice(i + 1), false);
  }
}

function key(room: string, user: string): string {
  // Room names never contain NUL (ROOM_PATTERN).
  return `${room}\0${user}`;
}
