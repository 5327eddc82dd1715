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
export type PresenceEmit = (room: string, user: string, online: boolean) => void;

export class PresenceTracker {
  readonly #rooms = new Map<string, Map<string, number>>();
  /** `room \0 user` -> deadline (ms); insertion order is deadline order. */
  readonly #leaving = new Map<string, number>();
  readonly #graceMs: number;
  readonly #emit: PresenceEmit;

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

  /** Reports the departures whose grace period has passed. */
  tick(now: number): void {
    for (const [k, deadline] of this.#leaving) {
      if (deadline > now) return;
      this.#leaving.delete(k);
      this.#report(k);
    }
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
   * than its TTL): logic has expired this epoch's entries meanwhile. Returns
   * how many were reported.
   */
  reannounce(): number {
    let n = 0;
    for (const [room, users] of this.#rooms)
      for (const user of users.keys()) {
        this.#emit(room, user, true);
        n++;
      }
    for (const k of this.#leaving.keys()) {
      const i = k.indexOf("\0");
      this.#emit(k.slice(0, i), k.slice(i + 1), true);
      n++;
    }
    return n;
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
