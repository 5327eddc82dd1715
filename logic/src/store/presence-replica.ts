import type { PresencePage, RoomsPage } from "./presence-table.ts";

/** Key of an entry in an owner's set; `\0` cannot occur in a room name or user id. */
function entryKey(room: string, user: string): string {
  return `${room}\0${user}`;
}

/**
 * The presence entries of a table held in memory: room -> user -> owners, and
 * owner -> its (room, user) entries, each with a numeric tag (the JetStream
 * table keeps the entry's stream sequence there). Synchronous, so a caller applying an
 * ordered log of changes gets each change's effect (first entry of a user in
 * a room, last one gone) at the position the change has in that log.
 *
 * A user held by one owner (the common case) stores that owner as a string
 * instead of a one-element Set: a 100,000-member room costs one Map entry per
 * user, not a Map entry plus a Set.
 */
export class PresenceReplica {
  readonly #rooms = new Map<string, Map<string, string | Set<string>>>();
  /** owner -> `room \0 user` -> tag */
  readonly #owners = new Map<string, Map<string, number>>();
  #entries = 0;

  /** Entries (room, user, owner) held. */
  get entries(): number {
    return this.#entries;
  }

  /** Adds the entry (or sets its tag if present); true when the user had no entry in the room before. */
  add(room: string, user: string, owner: string, tag = 0): boolean {
    let users = this.#rooms.get(room);
    if (users === undefined) {
      users = new Map();
      this.#rooms.set(room, users);
    }
    const held = users.get(user);
    if (held === owner || (typeof held === "object" && held.has(owner))) {
      this.#owners.get(owner)?.set(entryKey(room, user), tag);
      return false;
    }
    if (held === undefined) users.set(user, owner);
    else if (typeof held === "string") users.set(user, new Set([held, owner]));
    else held.add(owner);
    let keys = this.#owners.get(owner);
    if (keys === undefined) {
      keys = new Map();
      this.#owners.set(owner, keys);
    }
    keys.set(entryKey(room, user), tag);
    this.#entries++;
    return held === undefined;
  }

  /** Removes the entry; true when it existed and was the user's last in the room. */
  remove(room: string, user: string, owner: string): boolean {
    const users = this.#rooms.get(room);
    const held = users?.get(user);
    if (users === undefined || held === undefined) return false;
    let last: boolean;
    if (typeof held === "string") {
      if (held !== owner) return false;
      users.delete(user);
      last = true;
    } else {
      if (!held.delete(owner)) return false;
      if (held.size === 1) users.set(user, held.values().next().value as string);
      last = false;
    }
    if (users.size === 0) this.#rooms.delete(room);
    const keys = this.#owners.get(owner);
    keys?.delete(entryKey(room, user));
    if (keys?.size === 0) this.#owners.delete(owner);
    this.#entries--;
    return last;
  }

  has(room: string, user: string, owner: string): boolean {
    const held = this.#rooms.get(room)?.get(user);
    return held === owner || (typeof held === "object" && held.has(owner));
  }

  /** The entry's tag; undefined when there is no such entry. */
  tagOf(room: string, user: string, owner: string): number | undefined {
    return this.#owners.get(owner)?.get(entryKey(room, user));
  }

  /** The owner's entries, copied (safe to remove while iterating the result). */
  entriesOf(owner: string): { room: string; user: string }[] {
    const keys = this.#owners.get(owner);
    if (keys === undefined) return [];
    const out: { room: string; user: string }[] = [];
    for (const k of keys.keys()) {
      const i = k.indexOf("\0");
      out.push({ room: k.slice(0, i), user: k.slice(i + 1) });
    }
    return out;
  }

  /** How many entries the owner holds. */
  ownerSize(owner: string): number {
    return this.#owners.get(owner)?.size ?? 0;
  }

  /** Owners holding at least one entry. */
  owners(): IterableIterator<string> {
    return this.#owners.keys();
  }

  /** The `limit` smallest users after `after`, with the exact total. */
  page(room: string, after: string, limit: number): PresencePage {
    const users = this.#rooms.get(room);
    if (users === undefined) return { total: 0, users: [], more: false };
    const { best, more } = smallestAfter(users.keys(), after, limit);
    return { total: users.size, users: best, more };
  }

  /** The `limit` first rooms by name after `after`, with their distinct users; as page() does for users. */
  rooms(after: string, limit: number): RoomsPage {
    const { best, more } = smallestAfter(this.#rooms.keys(), after, limit);
    return {
      total: this.#rooms.size,
      rooms: best.map((room) => ({ room, users: this.#rooms.get(room)?.size ?? 0 })),
      more,
    };
  }

  clear(): void {
    this.#rooms.clear();
    this.#owners.clear();
    this.#entries = 0;
  }
}

/**
 * The `limit` smallest keys after `after`, sorted: one pass keeping a sorted
 * window of `limit` candidates, O(keys) comparisons and O(limit) memory, no
 * sorted copy of the set (100,000 keys page in a few milliseconds).
 */
function smallestAfter(
  keys: Iterable<string>,
  after: string,
  limit: number,
): { best: string[]; more: boolean } {
  const best: string[] = [];
  let candidates = 0;
  for (const k of keys) {
    if (k <= after) continue;
    candidates++;
    if (best.length === limit) {
      if (limit === 0 || k >= (best[limit - 1] as string)) continue;
      best.pop();
    }
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((best[mid] as string) < k) lo = mid + 1;
      else hi = mid;
    }
    best.splice(lo, 0, k);
  }
  return { best, more: candidates > limit };
}
