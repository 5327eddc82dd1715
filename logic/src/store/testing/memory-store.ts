import { type CurrentState, currentView, nextState } from "../edit-state.ts";
import { checkAppend, checkLimit, checkRoom } from "../input-checks.ts";
import type {
  AppendInput,
  AppendResult,
  MessageStore,
  ReadOptions,
  ReadResult,
  StoredMessage,
} from "../message-store.ts";
import { StoreError } from "../store-error.ts";

/**
 * UNIT TESTS ONLY: a MessageStore in a Map, lost on exit and private to one
 * process. Not selectable in configuration; `openStore` never returns it.
 * `failNext` lets handler tests exercise the store-outage paths.
 */
export class InMemoryStoreForTests implements MessageStore {
  readonly kind = "memory" as const;
  readonly #rooms = new Map<
    string,
    { messages: StoredMessage[]; ids: Map<string, number>; states: Map<number, CurrentState> }
  >();
  #closed = false;
  #unavailable = false;

  /** While true, every call fails with `store_unavailable`, as an unreachable store would. */
  setUnavailable(unavailable: boolean): void {
    this.#unavailable = unavailable;
  }

  async append(room: string, input: AppendInput): Promise<AppendResult> {
    this.#guard();
    checkAppend(room, input);
    let log = this.#rooms.get(room);
    if (log === undefined) {
      log = { messages: [], ids: new Map(), states: new Map() };
      this.#rooms.set(room, log);
    }
    const existing = log.ids.get(input.id);
    if (existing !== undefined) {
      const m = log.messages[existing - 1] as StoredMessage;
      return { seq: m.seq, prev: m.prev, ts: m.ts, duplicate: true, from: m.from };
    }
    const seq = log.messages.length + 1;
    const m: StoredMessage = {
      room,
      seq,
      prev: seq - 1,
      id: input.id,
      from: input.from,
      ts: Date.now(),
      body: input.body,
      kind: input.kind ?? "message",
      target: input.target ?? 0,
    };
    log.messages.push(m);
    log.ids.set(input.id, seq);
    if (input.kind !== undefined && input.target !== undefined) {
      const next = nextState(log.states.get(input.target), {
        seq,
        ts: m.ts,
        kind: input.kind,
        body: input.body,
      });
      if (next !== undefined && log.messages[input.target - 1]?.kind === "message")
        log.states.set(input.target, next);
    }
    return { seq, prev: m.prev, ts: m.ts, duplicate: false, from: input.from };
  }

  async read(room: string, options: ReadOptions): Promise<ReadResult> {
    this.#guard();
    checkRoom(room);
    checkLimit(options.limit);
    const log = this.#rooms.get(room);
    const all = log?.messages ?? [];
    const headSeq = all.length;
    const since = options.since ?? Math.max(0, headSeq - options.limit);
    const events = all.slice(since, since + options.limit);
    const lastSeq = events.at(-1)?.seq ?? since;
    const messages = options.view === "current" ? currentView(events, (s) => log?.states.get(s)) : events;
    return { messages, lastSeq, complete: lastSeq >= headSeq, headSeq };
  }

  readonly #reads = new Map<string, number>();

  async setReadMarker(room: string, user: string, seq: number): Promise<number> {
    this.#guard();
    checkRoom(room);
    const k = `${room}\0${user}`;
    const next = Math.max(this.#reads.get(k) ?? 0, seq);
    this.#reads.set(k, next);
    return next;
  }

  async getReadMarkers(room: string, users: readonly string[]): Promise<Map<string, number>> {
    this.#guard();
    checkRoom(room);
    const out = new Map<string, number>();
    for (const u of users) {
      const v = this.#reads.get(`${room}\0${u}`);
      if (v !== undefined) out.set(u, v);
    }
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #guard(): void {
    if (this.#closed) throw new StoreError("store_closed", "store is closed");
    if (this.#unavailable) throw new StoreError("store_unavailable", "store is unavailable (test switch)");
  }
}
