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

/** Receives users gone from a room entirely, to tell the room. */
export type DepartureSink = (gone: readonly PresenceDeparture[]) => void;

export interface PresencePage {
  /** Distinct users in the room. */
  readonly total: number;
  /** Sorted ascending, after the requested user id. */
  readonly users: readonly string[];
  /** True when users after the last one exist. */
  readonly more: boolean;
}

/** A page of the rooms with at least one user online. */
export interface RoomsPage {
  /** Rooms with at least one user online, in all. */
  readonly total: number;
  /** Sorted by name, after the requested room, with their distinct users. */
  readonly rooms: readonly { readonly room: string; readonly users: number }[];
  /** True when rooms after the last one exist. */
  readonly more: boolean;
}

export interface PresenceTable {
  /** Records the entry; true when the user had no entry in the room before (tell the room `joined`). */
  setOnline(room: string, user: string, owner: string, now: number, ttlMs: number): Promise<boolean>;
  /** Removes the entry; true when it existed and was the user's last in the room (tell the room `left`). */
  setOffline(room: string, user: string, owner: string): Promise<boolean>;
  /** Extends the owner's lease to now + ttlMs. */
  renew(owner: string, now: number, ttlMs: number): Promise<void>;
  /**
   * Removes every entry of the owner and its lease. Users gone from a room
   * entirely are handed to `announce` as they go (possibly in several calls);
   * resolves with how many.
   */
  release(owner: string, announce: DepartureSink): Promise<number>;
  /**
   * Releases every owner whose lease ended at or before `now`, except those
   * `isLive` vouches for (a gateway epoch this process has a live push stream
   * to is not dead, whatever its lease says). Departures as for release().
   */
  expire(now: number, isLive: (owner: string) => boolean, announce: DepartureSink): Promise<number>;
  /** A page of the room's users (sorted by id, after `after`) and the exact total. */
  page(room: string, after: string, limit: number): Promise<PresencePage>;
  /** A page of the rooms with users online (sorted by name, after `after`), with their counts. */
  rooms(after: string, limit: number): Promise<RoomsPage>;
  /** Entries (room, user, owner) in the table, for the presence entries gauge. */
  entryCount(): Promise<number>;
  close(): Promise<void>;
}
