import { retryHintMs } from "../../../protocol/retry-hint.ts";

/**
 * Admission of sends by the queue delay of their appends, so that overload
 * turns into quick retryable refusals instead of a queue that outlives it.
 *
 * Two signals, both measured here on every append (whatever the store):
 * - the process: each append's sojourn, from the handler's call to the
 *   store's answer (waiting for an in-flight slot, for the batch, for the
 *   store itself, and for the event loop). As in CoDel, a sojourn above the
 *   target is no reason to act, but one that stays above it for a whole
 *   interval is a standing queue: new sends are refused until an append
 *   completes under the target again (or nothing is left in flight).
 * - a room: the age of its oldest unfinished append. Appends to one room
 *   are ordered (JetStream runs them one round trip after another), so a hot
 *   room queues behind itself while the process is fine; its sends are
 *   refused once that age passes the room limit.
 *
 * A refusal carries a retry hint that grows with the delay measured and is
 * jittered (protocol/retry-hint.ts).
 */
export interface AdmissionOptions {
  /** Queue delay the process aims to stay under, ms; 0 admits everything. */
  readonly targetMs: number;
  /** Uniform in [0, 1); tests fix it. */
  readonly random?: () => number;
}

export type ShedScope = "process" | "room";

export interface Shed {
  readonly scope: ShedScope;
  readonly retryAfterMs: number;
}

/** A standing queue is a sojourn above target for this many targets in a row. */
const INTERVAL_TARGETS = 4;
/** A room's oldest append older than this many targets refuses the room's sends. */
const ROOM_LIMIT_TARGETS = 5;

interface RoomAppends {
  /** Start times of unfinished appends, oldest first, from `head`. */
  starts: number[];
  head: number;
}

export class AppendAdmission {
  readonly #targetMs: number;
  readonly #random: () => number;
  /** Rooms with unfinished appends only: the map holds no more than what is in flight. */
  readonly #rooms = new Map<string, RoomAppends>();
  #inFlight = 0;
  /** When the sojourn went above target and stayed (0: it is under). */
  #aboveSince = 0;
  #shedding = false;
  /** The last sojourn measured, ms. */
  #lastSojournMs = 0;

  constructor(o: AdmissionOptions) {
    this.#targetMs = o.targetMs;
    this.#random = o.random ?? Math.random;
  }

  /** Appends started and not finished. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The process's queue delay as last measured (for the metric and hints), ms. */
  get delayMs(): number {
    return this.#lastSojournMs;
  }

  /** Whether a send to `room` may append now; a Shed when it is to be refused. */
  admit(room: string, now: number): Shed | undefined {
    if (this.#targetMs <= 0) return undefined;
    if (this.#shedding && this.#inFlight === 0) this.#reset();
    const r = this.#rooms.get(room);
    if (r !== undefined) {
      const age = now - (r.starts[r.head] as number);
      if (age > ROOM_LIMIT_TARGETS * this.#targetMs) return { scope: "room", retryAfterMs: this.#hint(age) };
    }
    if (this.#shedding) return { scope: "process", retryAfterMs: this.#hint(this.#lastSojournMs) };
    return undefined;
  }

  /** An append to `room` starts at `now`. */
  begin(room: string, now: number): void {
    this.#inFlight++;
    let r = this.#rooms.get(room);
    if (r === undefined) {
      r = { starts: [], head: 0 };
      this.#rooms.set(room, r);
    }
    r.starts.push(now);
  }

  /** The append to `room` begun at `startedAt` finished (stored or failed) at `now`. */
  end(room: string, startedAt: number, now: number): void {
    this.#inFlight--;
    const r = this.#rooms.get(room);
    if (r !== undefined) {
      // Appends of a room finish in the order they began; should one not,
      // dropping the oldest start still leaves the room's age an upper bound.
      r.head++;
      if (r.head >= r.starts.length) this.#rooms.delete(room);
      else if (r.head > 64 && r.head * 2 > r.starts.length) {
        r.starts = r.starts.slice(r.head);
        r.head = 0;
      }
    }
    const sojourn = now - startedAt;
    this.#lastSojournMs = sojourn;
    if (sojourn < this.#targetMs) {
      this.#reset();
    } else if (this.#aboveSince === 0) {
      this.#aboveSince = now;
    } else if (now - this.#aboveSince >= INTERVAL_TARGETS * this.#targetMs) {
      this.#shedding = true;
    }
  }

  /** A retry hint for a refusal caused by `delayMs` of queue (by default the last measured). */
  hint(delayMs = this.#lastSojournMs): number {
    return this.#hint(delayMs);
  }

  #hint(delayMs: number): number {
    return retryHintMs(delayMs, this.#random);
  }

  #reset(): void {
    this.#aboveSince = 0;
    this.#shedding = false;
  }
}
