/** Sends remembered; beyond this many the oldest is forgotten (about 150 bytes each). */
export const DEFAULT_RECENT_SENDS = 32_768;

/** What the ack of a stored send needs. */
export interface StoredSend {
  readonly seq: number;
  readonly from: string;
}

/**
 * The sends this process stored and delivered most recently, by room and
 * client message id. A client resends a send whose ack it did not get (a
 * refusal it retries, a timeout, a reconnect); one that this process already
 * stored is answered from here with its ack, without a store call: under
 * overload, resends then cost no append and take no place in a queue. The
 * store's own deduplication still answers the resends that miss here (another
 * process stored it, or it was forgotten). Bounded in entries, least recently
 * stored first out.
 */
export class RecentSends {
  readonly #max: number;
  readonly #byKey = new Map<string, StoredSend>();

  constructor(maxEntries = DEFAULT_RECENT_SENDS) {
    if (!(maxEntries >= 1)) throw new RangeError("recent sends: maxEntries must be at least 1");
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#byKey.size;
  }

  get(room: string, id: string): StoredSend | undefined {
    return this.#byKey.get(key(room, id));
  }

  /** The send was stored and delivered. */
  remember(room: string, id: string, sent: StoredSend): void {
    const k = key(room, id);
    if (this.#byKey.size >= this.#max && !this.#byKey.has(k)) {
      const oldest = this.#byKey.keys().next();
      if (oldest.done !== true) this.#byKey.delete(oldest.value);
    }
    this.#byKey.set(k, sent);
  }
}

/** Room names cannot contain a space (ROOM_PATTERN), so it separates the two unambiguously. */
function key(room: string, id: string): string {
  return `${room} ${id}`;
}
