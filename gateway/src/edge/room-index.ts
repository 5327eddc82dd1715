import type { Connection, Membership } from "./connection.ts";

/**
 * The local index room -> member sockets. A membership object is shared by
 * both directions (room -> members and connection -> rooms) so fan-out reads
 * the join floor without a second lookup per recipient.
 */
export class RoomIndex {
  private readonly rooms = new Map<string, Map<Connection, Membership>>();

  members(room: string): Map<Connection, Membership> | undefined {
    return this.rooms.get(room);
  }

  get size(): number {
    return this.rooms.size;
  }

  roomNames(): IterableIterator<string> {
    return this.rooms.keys();
  }

  /** Adds (or returns) the membership. `created` is true when the room had no local member before. */
  add(conn: Connection, room: string): { membership: Membership; created: boolean } {
    let mine = conn.rooms;
    if (mine === null) {
      mine = new Map();
      conn.rooms = mine;
    }
    const existing = mine.get(room);
    if (existing) return { membership: existing, created: false };
    const membership: Membership = { floor: 0, held: null, present: false, granted: false };
    mine.set(room, membership);
    let members = this.rooms.get(room);
    const created = members === undefined;
    if (members === undefined) {
      members = new Map();
      this.rooms.set(room, members);
    }
    members.set(conn, membership);
    return { membership, created };
  }

  /** Removes one membership; returns true when the room has no local member left. */
  remove(conn: Connection, room: string): boolean {
    if (!conn.rooms?.delete(room)) return false;
    const members = this.rooms.get(room);
    if (!members) return false;
    members.delete(conn);
    if (members.size > 0) return false;
    this.rooms.delete(room);
    return true;
  }

  /** Removes every membership of a closed connection; returns the rooms left without members. */
  removeConnection(conn: Connection): string[] {
    const emptied: string[] = [];
    if (conn.rooms === null) return emptied;
    for (const room of conn.rooms.keys()) {
      const members = this.rooms.get(room);
      if (!members) continue;
      members.delete(conn);
      if (members.size === 0) {
        this.rooms.delete(room);
        emptied.push(room);
      }
    }
    conn.rooms = null;
    return emptied;
  }
}
