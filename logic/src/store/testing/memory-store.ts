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
  readonly #rooms = new Map<string, { messages: StoredMessage[]; ids: Map<string, number> }>();
  #closed = false;
  #unavailable = false;

  /** While true, every call fails with `store_unavailable`, as an unreachable store would. */
  setUnavailable(unavailable: boolean): void {
    this.#unavailable = unavailable;
  }

  async append(room: string, input: AppendInput): Promise<AppendResult> {
    this.#guard();
    checkAppend(room, input.id, input.from);
    let log = this.#rooms.get(room);
    if (log === undefined) {
      log = { messages: [], ids: new Map() };
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
    };
    log.messages.push(m);
    log.ids.set(input.id, seq);
    return { seq, prev: m.prev, ts: m.ts, duplicate: false, from: input.from };
  }

  async read(room: string, options: ReadOptions): Promise<ReadResult> {
    this.#guard();
    checkRoom(room);
    checkLimit(options.limit);
    const all = this.#rooms.get(room)?.messages ?? [];
    const headSeq = all.length;
    const since = options.since ?? Math.max(0, headSeq - options.limit);
    const messages = all.slice(since, since + options.limit);
    const last = messages.at(-1)?.seq ?? since;
    return { messages, complete: last >= headSeq, headSeq };
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
