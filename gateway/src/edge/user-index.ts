import type { Connection } from "./connection.ts";

/**
 * The local index user -> authenticated sockets, behind the interest key
 * `#user:<id>` (read markers with notify `self` reach a user's devices
 * through it). Kept apart from the room index, and without its per-member
 * bookkeeping (join floors, held frames), because every connection is in it:
 * a user with one connection (the common case) costs one Map entry holding
 * the connection itself.
 */
export class UserIndex {
  readonly #users = new Map<string, Connection | Set<Connection>>();

  get size(): number {
    return this.#users.size;
  }

  /** Adds the connection; true when the user had no local connection before. */
  add(conn: Connection, user: string): boolean {
    const held = this.#users.get(user);
    if (held === undefined) {
      this.#users.set(user, conn);
      return true;
    }
    if (held === conn) return false;
    if (held instanceof Set) held.add(conn);
    else this.#users.set(user, new Set([held, conn]));
    return false;
  }

  /** Removes the connection; true when the user has no local connection left. */
  remove(conn: Connection, user: string): boolean {
    const held = this.#users.get(user);
    if (held === undefined) return false;
    if (held instanceof Set) {
      held.delete(conn);
      if (held.size === 1) this.#users.set(user, held.values().next().value as Connection);
      return false;
    }
    if (held !== conn) return false;
    this.#users.delete(user);
    return true;
  }

  /** Calls `fn` for each local connection of the user; returns how many. */
  forEach(user: string, fn: (conn: Connection) => void): number {
    const held = this.#users.get(user);
    if (held === undefined) return 0;
    if (held instanceof Set) {
      for (const c of held) fn(c);
      return held.size;
    }
    fn(held);
    return 1;
  }
}
