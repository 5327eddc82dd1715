/** Events of one room that may wait for earlier ones in this process. */
export const MAX_WAITING_PER_ROOM = 256;

interface Step {
  settled: boolean;
  run: () => void;
}

/**
 * Keeps a room's events in arrival order while each waits for its own hook
 * answer: the answers may come in any order (calls run concurrently), but
 * an event's continuation (which hands it to the store) runs only after every
 * earlier event of the room had its continuation run. So a send held by a
 * slow hook cannot be overtaken by a later send of the same room, while
 * other rooms go on. Continuations run synchronously, in order; the store
 * keeps the order of the calls it gets.
 */
export class RoomSequencer {
  readonly #rooms = new Map<string, Step[]>();
  readonly #maxPerRoom: number;

  constructor(maxPerRoom = MAX_WAITING_PER_ROOM) {
    this.#maxPerRoom = maxPerRoom;
  }

  /** Events of `room` waiting now (for tests and metrics). */
  waiting(room: string): number {
    return this.#rooms.get(room)?.length ?? 0;
  }

  /**
   * Queues an event: `then` runs with `decision`'s value once it and every
   * earlier event of the room are done. `decision` should not reject (a
   * rejected one is skipped, and its event is the caller's to answer). False
   * (nothing queued) when the room already has maxPerRoom waiting.
   */
  enqueue<T>(room: string, decision: Promise<T>, then: (value: T) => void): boolean {
    let steps = this.#rooms.get(room);
    if (steps === undefined) {
      steps = [];
      this.#rooms.set(room, steps);
    } else if (steps.length >= this.#maxPerRoom) {
      return false;
    }
    const step: Step = { settled: false, run: () => {} };
    steps.push(step);
    const queue = steps;
    const settle = (run: () => void): void => {
      step.settled = true;
      step.run = run;
      this.#drain(room, queue);
    };
    // A rejection is a caller's bug; it must still release the room.
    decision.then(
      (value) => settle(() => then(value)),
      () => settle(() => {}),
    );
    return true;
  }

  #drain(room: string, steps: Step[]): void {
    while (steps.length > 0 && (steps[0] as Step).settled) {
      const step = steps.shift() as Step;
      try {
        step.run();
      } catch {
        // A continuation answers its own event; one that throws must not stall the room.
      }
    }
    if (steps.length === 0 && this.#rooms.get(room) === steps) this.#rooms.delete(room);
  }
}
