/**
 * The gateway's set of rooms with local members, and the changes not yet
 * published. Changes accumulate during a tick and go out as one delta;
 * adding and removing the same room within a tick cancels out.
 */
export class InterestTracker {
  readonly rooms = new Set<string>();
  #version = 0n;
  /** room -> present after the change, relative to the last published state. */
  readonly #changes = new Map<string, boolean>();

  get version(): bigint {
    return this.#version;
  }

  get hasChanges(): boolean {
    return this.#changes.size > 0;
  }

  add(room: string): void {
    if (this.rooms.has(room)) return;
    this.rooms.add(room);
    this.#toggle(room, true);
  }

  remove(room: string): void {
    if (!this.rooms.delete(room)) return;
    this.#toggle(room, false);
  }

  /** The accumulated delta as the next version, or undefined when nothing changed. */
  takeDelta(): { added: string[]; removed: string[]; version: bigint } | undefined {
    if (this.#changes.size === 0) return undefined;
    const added: string[] = [];
    const removed: string[] = [];
    for (const [room, present] of this.#changes) (present ? added : removed).push(room);
    this.#changes.clear();
    this.#version++;
    return { added, removed, version: this.#version };
  }

  /** The full set at the current version; call after takeDelta so no change is pending. */
  snapshot(): { rooms: string[]; version: bigint } {
    return { rooms: [...this.rooms], version: this.#version };
  }

  #toggle(room: string, present: boolean): void {
    const prior = this.#changes.get(room);
    if (prior !== undefined && prior !== present) this.#changes.delete(room);
    else this.#changes.set(room, present);
  }
}
