import type { ResultFrame } from "../../protocol/call-frames.ts";
import type { PresencePageFrame, ReadsPageFrame } from "../../protocol/presence-frames.ts";
import { ChatClientError } from "./client-error.ts";

/** A query's answer frame. */
export type QueryAnswer = PresencePageFrame | ReadsPageFrame | ResultFrame;

interface Query {
  resolve: (frame: QueryAnswer) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Presence and read-marker queries and calls waiting for their answer.
 * Presence and read-marker answers carry no request id, only the room, so
 * queries are matched first in, first out per `<type> <room>` key; a call's
 * key holds its id. Each rejects with `rejected` when no answer came within
 * timeoutMs.
 */
export class QueryTable {
  readonly #waiting = new Map<string, Query[]>();
  readonly #timeoutMs: number;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Waits for the answer of a query just sent under `key`. */
  wait<T extends QueryAnswer>(key: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const q: Query = {
        resolve: resolve as (frame: QueryAnswer) => void,
        reject,
        timer: setTimeout(() => {
          const list = this.#waiting.get(key);
          const i = list?.indexOf(q) ?? -1;
          if (list && i >= 0) list.splice(i, 1);
          if (list?.length === 0) this.#waiting.delete(key);
          reject(new ChatClientError("rejected", `${key}: no answer within ${this.#timeoutMs} ms`));
        }, this.#timeoutMs),
      };
      let list = this.#waiting.get(key);
      if (!list) {
        list = [];
        this.#waiting.set(key, list);
      }
      list.push(q);
    });
  }

  /** Rejects the newest query waiting under `key` (its frame never left). */
  abandonNewest(key: string, err: Error): void {
    const list = this.#waiting.get(key);
    const q = list?.pop();
    if (list?.length === 0) this.#waiting.delete(key);
    if (!q) return;
    clearTimeout(q.timer);
    q.reject(err);
  }

  /** Resolves the oldest query waiting under `key` (an answer nobody waits for is ignored). */
  answer(key: string, frame: QueryAnswer): void {
    const q = this.#take(key);
    if (!q) return;
    clearTimeout(q.timer);
    q.resolve(frame);
  }

  /** Rejects the oldest query waiting under `key` (an error answered it); false when none waits. */
  fail(key: string, err: Error): boolean {
    const q = this.#take(key);
    if (!q) return false;
    clearTimeout(q.timer);
    q.reject(err);
    return true;
  }

  /** The oldest query under `key`, removed; the key goes with its last query (call keys are unique). */
  #take(key: string): Query | undefined {
    const list = this.#waiting.get(key);
    const q = list?.shift();
    if (list?.length === 0) this.#waiting.delete(key);
    return q;
  }

  rejectAll(err: Error): void {
    for (const list of this.#waiting.values())
      for (const q of list) {
        clearTimeout(q.timer);
        q.reject(err);
      }
    this.#waiting.clear();
  }
}
