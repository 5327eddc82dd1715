import { PresenceReplica } from "./presence-replica.ts";
import type {
  DepartureSink,
  PresenceDeparture,
  PresencePage,
  PresenceTable,
  RoomsPage,
} from "./presence-table.ts";

/**
 * UNIT TESTS AND SINGLE-PROCESS USE: the table in memory, private to one
 * logic process (exact only when it is the only logic process).
 */
export class InMemoryPresenceTable implements PresenceTable {
  readonly #entries = new PresenceReplica();
  /** owner -> lease end */
  readonly #leases = new Map<string, number>();

  async setOnline(room: string, user: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
    if (!this.#leases.has(owner)) this.#leases.set(owner, now + ttlMs);
    return this.#entries.add(room, user, owner);
  }

  async setOffline(room: string, user: string, owner: string): Promise<boolean> {
    return this.#entries.remove(room, user, owner);
  }

  async renew(owner: string, now: number, ttlMs: number): Promise<void> {
    this.#leases.set(owner, now + ttlMs);
  }

  async release(owner: string, announce: DepartureSink): Promise<number> {
    this.#leases.delete(owner);
    const gone: PresenceDeparture[] = [];
    for (const { room, user } of this.#entries.entriesOf(owner))
      if (this.#entries.remove(room, user, owner)) gone.push({ room, user });
    if (gone.length > 0) announce(gone);
    return gone.length;
  }

  async expire(now: number, isLive: (owner: string) => boolean, announce: DepartureSink): Promise<number> {
    let n = 0;
    for (const [owner, expiresAt] of [...this.#leases])
      if (expiresAt <= now && !isLive(owner)) n += await this.release(owner, announce);
    return n;
  }

  async page(room: string, after: string, limit: number): Promise<PresencePage> {
    return this.#entries.page(room, after, limit);
  }

  async rooms(after: string, limit: number): Promise<RoomsPage> {
    return this.#entries.rooms(after, limit);
  }

  async entryCount(): Promise<number> {
    return this.#entries.entries;
  }

  async close(): Promise<void> {}
}
