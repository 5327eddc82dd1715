/**
 * Who is online in which room, shared by every logic process (docs/presence.md).
 *
 * Gateways own the truth about their connections and report transitions;
 * the table keeps one entry per (room, user, owner), where owner is the
 * reporting gateway's `<id>/<epoch>`. A user counts once however many
 * entries (gateways) hold them. Each owner has a lease the gateway renews;
 * `expire` removes the entries of owners whose lease ran out (a gateway that
 * crashed), `release` those of an owner that ended cleanly.
 */

/** A user who has no entry left in a room: logic tells the room `left`. */
export interface PresenceDeparture {
  readonly room: string;
  readonly user: string;
}

export interface PresencePage {
  /** Distinct users in the room. */
  readonly total: number;
  /** Sorted ascending, after the requested user id. */
  readonly users: readonly string[];
  /** True when users after the last one exist. */
  readonly more: boolean;
}

export interface PresenceTable {
  /** Records the entry; true when the user had no entry in the room before (tell the room `joined`). */
  setOnline(room: string, user: string, owner: string, now: number, ttlMs: number): Promise<boolean>;
  /** Removes the entry; true when it existed and was the user's last in the room (tell the room `left`). */
  setOffline(room: string, user: string, owner: string): Promise<boolean>;
  /** Extends the owner's lease to now + ttlMs. */
  renew(owner: string, now: number, ttlMs: number): Promise<void>;
  /** Removes every entry of the owner and its lease; returns the users gone from a room entirely. */
  release(owner: string): Promise<PresenceDeparture[]>;
  /** Releases every owner whose lease ended at or before `now`. */
  expire(now: number): Promise<PresenceDeparture[]>;
  /** A page of the room's users (sorted by id, after `after`) and the exact total. */
  page(room: string, after: string, limit: number): Promise<PresencePage>;
  close(): Promise<void>;
}

/**
 * UNIT TESTS AND SINGLE-PROCESS USE: the table in Maps, private to one logic
 * process (exact only when it is the only logic process).
 */
export class InMemoryPresenceTable implements PresenceTable {
  /** room -> user -> owners */
  readonly #rooms = new Map<string, Map<string, Set<string>>>();
  /** owner -> lease end and its (room, user) entries */
  readonly #owners = new Map<string, { expiresAt: number; entries: Set<string> }>();

  async setOnline(room: string, user: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
    let o = this.#owners.get(owner);
    if (o === undefined) {
      o = { expiresAt: now + ttlMs, entries: new Set() };
      this.#owners.set(owner, o);
    }
    o.entries.add(`${room}\0${user}`);
    let users = this.#rooms.get(room);
    if (users === undefined) {
      users = new Map();
      this.#rooms.set(room, users);
    }
    let owners = users.get(user);
    const first = owners === undefined;
    if (owners === undefined) {
      owners = new Set();
      users.set(user, owners);
    }
    owners.add(owner);
    return first;
  }

  async setOffline(room: string, user: string, owner: string): Promise<boolean> {
    this.#owners.get(owner)?.entries.delete(`${room}\0${user}`);
    return this.#drop(room, user, owner);
  }

  async renew(owner: string, now: number, ttlMs: number): Promise<void> {
    const o = this.#owners.get(owner);
    if (o === undefined) this.#owners.set(owner, { expiresAt: now + ttlMs, entries: new Set() });
    else o.expiresAt = now + ttlMs;
  }

  async release(owner: string): Promise<PresenceDeparture[]> {
    const o = this.#owners.get(owner);
    this.#owners.delete(owner);
    const gone: PresenceDeparture[] = [];
    if (o === undefined) return gone;
    for (const k of o.entries) {
      const i = k.indexOf("\0");
      const room = k.slice(0, i);
      const user = k.slice(i + 1);
      if (this.#drop(room, user, owner)) gone.push({ room, user });
    }
    return gone;
  }

  async expire(now: number): Promise<PresenceDeparture[]> {
    const gone: PresenceDeparture[] = [];
    for (const [owner, o] of [...this.#owners])
      if (o.expiresAt <= now) gone.push(...(await this.release(owner)));
    return gone;
  }

  async page(room: string, after: string, limit: number): Promise<PresencePage> {
    const users = this.#rooms.get(room);
    if (users === undefined) return { total: 0, users: [], more: false };
    const sorted = [...users.keys()].filter((u) => u > after).sort();
    return { total: users.size, users: sorted.slice(0, limit), more: sorted.length > limit };
  }

  async close(): Promise<void> {}

  #drop(room: string, user: string, owner: string): boolean {
    const users = this.#rooms.get(room);
    const owners = users?.get(user);
    if (users === undefined || owners === undefined || !owners.delete(owner)) return false;
    if (owners.size > 0) return false;
    users.delete(user);
    if (users.size === 0) this.#rooms.delete(room);
    return true;
  }
}
