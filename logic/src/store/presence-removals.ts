/** A removal's sequence is forgotten this long after it was applied (it has aged out of the stream by then). */
export const FORGET_REMOVAL_AFTER_MS = 11 * 60_000;

/**
 * Stream sequences of removed presence entries, for conditional writes over
 * a removal, kept until the removal has aged out of the stream (its TTL).
 * A present entry's sequence is its tag in the replica instead.
 */
export class PresenceRemovals {
  readonly #seq = new Map<string, number>();
  /** Removals applied, oldest first, for forgetting their sequences. */
  #order: { key: string; seq: number; at: number }[] = [];
  #head = 0;

  seqOf(room: string, user: string, owner: string): number | undefined {
    return this.#seq.size === 0 ? undefined : this.#seq.get(key(room, user, owner));
  }

  /** A removal applied from the stream at `at` (Date.now()). */
  removed(room: string, user: string, owner: string, seq: number, at: number): void {
    const k = key(room, user, owner);
    this.#seq.set(k, seq);
    this.#order.push({ key: k, seq, at });
  }

  /** What a direct read showed the stream holds for the entry (0: nothing). */
  set(room: string, user: string, owner: string, seq: number): void {
    if (seq === 0) this.#seq.delete(key(room, user, owner));
    else this.#seq.set(key(room, user, owner), seq);
  }

  /** The entry is present again. */
  delete(room: string, user: string, owner: string): void {
    if (this.#seq.size > 0) this.#seq.delete(key(room, user, owner));
  }

  clear(): void {
    this.#seq.clear();
    this.#order = [];
    this.#head = 0;
  }

  /** Forgets removals applied before `before` (Date.now() scale). */
  forget(before: number): void {
    const t = this.#order;
    while (this.#head < t.length && (t[this.#head]?.at ?? 0) < before) {
      const old = t[this.#head++] as { key: string; seq: number };
      if (this.#seq.get(old.key) === old.seq) this.#seq.delete(old.key);
    }
    if (this.#head > 4096 && this.#head * 2 > t.length) {
      this.#order = t.slice(this.#head);
      this.#head = 0;
    }
  }
}

function key(room: string, user: string, owner: string): string {
  // Room names and user ids never contain NUL.
  return `${room}\0${user}\0${owner}`;
}
