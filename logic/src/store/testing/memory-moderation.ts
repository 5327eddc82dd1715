import type { ModerationEntry, ModerationStore } from "../moderation-store.ts";

/** UNIT TESTS ONLY: the moderation entries in memory, private to one process. */
export class InMemoryModerationForTests implements ModerationStore {
  readonly #log: ModerationEntry[] = [];

  async put(e: ModerationEntry): Promise<void> {
    this.#log.push(e);
  }

  async changes(cursor: number): Promise<{ entries: ModerationEntry[]; cursor: number }> {
    return { entries: this.#log.slice(cursor), cursor: this.#log.length };
  }

  async close(): Promise<void> {}
}
