import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type StoredMsg,
} from "@nats-io/jetstream";
import { headers, type NatsConnection, nanos } from "@nats-io/transport-node";
import { currentView } from "./edit-state.ts";
import { checkAppend, checkLimit, checkRoom } from "./input-checks.ts";
import { JetStreamEditStates } from "./jetstream-edit-states.ts";
import { isWrongLastSequence } from "./jetstream-errors.ts";
import { JetStreamReadMarkers } from "./jetstream-read-markers.ts";
import type {
  AppendInput,
  AppendResult,
  MessageStore,
  ReadOptions,
  ReadResult,
  StoredMessage,
} from "./message-store.ts";
import { connectToNats } from "./nats-connection.ts";
import { backendFailure, StoreError } from "./store-error.ts";
import { ensureStream, type StreamSpec } from "./stream-setup.ts";

/**
 * The clustered store: one JetStream stream per ChatCluster, one subject per
 * room (`<prefix>.room.<room>`), the body as the payload and the room's order in
 * headers (`Chat-Seq`, `Chat-Id`, `Chat-From`, `Chat-Ts`; prev is always seq-1).
 *
 * Ordering across logic processes: every publish carries
 * `Nats-Expected-Last-Subject-Sequence` = the stream sequence of the room's last
 * message as this process knows it, and `Chat-Seq` = that message's room seq + 1.
 * JetStream rejects the publish when another writer got there first (wrong last
 * sequence); the writer re-reads the room's head and retries. So the room seq is
 * gap-free and totally ordered no matter how many processes write the room.
 * Within one process, appends to one room are serialized (one publish round
 * trip per message per room); different rooms proceed in parallel.
 *
 * Edits and deletes are messages of the room's subject too, with `Chat-Kind`
 * and `Chat-Target` headers; the current state of an edited message lives in
 * a stream of its own (jetstream-edit-states.ts), written after the event.
 *
 * Deduplication: `Nats-Msg-Id` = room + client id. JetStream answers a repeat
 * within the stream's duplicate window with the ORIGINAL stream sequence; the
 * store reads that message back to return its room seq.
 *
 * History: `since` is a room seq but JetStream indexes by stream sequence. The
 * start is found by a binary search of direct gets (`next_by_subj`) between two
 * bounds that follow from the chain (room seq r lives at stream seq >= r, and
 * the k messages after it take k later stream seqs), so a room that has the
 * stream to itself needs no search and a busy stream needs O(log n) gets; the
 * page is then one batched direct get filtered to the room's subject.
 */
export interface JetStreamStoreOptions {
  /** nats:// URLs of the cluster. */
  readonly servers: readonly string[];
  /** Stream name; one stream per ChatCluster. */
  readonly stream: string;
  /** Subject prefix; rooms live at `<prefix>.room.<room>`. */
  readonly subjectPrefix: string;
  /** How long JetStream remembers message ids for deduplication. */
  readonly duplicateWindowMs: number;
  /** Timeout of every JetStream request and publish. */
  readonly requestTimeoutMs: number;
  /**
   * Replicas of every stream the store uses (messages and read markers): 1 on a
   * single server, 3 or 5 on a JetStream cluster of at least that many servers.
   * An existing stream is scaled to it on open.
   */
  readonly replicas: number;
  /** Message retention; 0 keeps messages forever. Applied on creation and kept in sync on start. */
  readonly maxAgeMs?: number;
  /** Connection name shown by the server (the logic id). */
  readonly connectionName: string;
  /**
   * Appends one room may have waiting in this process; more are refused as
   * `overloaded` so one hot room cannot take every in-flight slot. Default 256.
   */
  readonly maxQueuedPerRoom?: number;
  /** Lost races for one room before an append gives up with `store_conflict`. Default 100. */
  readonly maxConflictRetries?: number;
}

const CHAT_SEQ = "Chat-Seq";
const CHAT_ID = "Chat-Id";
const CHAT_FROM = "Chat-From";
const CHAT_TS = "Chat-Ts";
const CHAT_KIND = "Chat-Kind";
const CHAT_TARGET = "Chat-Target";
/** Rooms whose head this process caches; beyond it idle rooms are forgotten (one extra get later). */
const MAX_CACHED_ROOMS = 10_000;
const DEFAULT_MAX_CONFLICT_RETRIES = 100;
/** Appends one room may have waiting in this process (about 0.1 s of work at ~2k appends/s per room). */
const DEFAULT_MAX_QUEUED_PER_ROOM = 256;

interface Head {
  /** Stream sequence of the room's last message (0: none). */
  readonly streamSeq: number;
  /** Room seq of that message (0: none). */
  readonly roomSeq: number;
}

interface RoomWriter {
  head: Head | undefined;
  /** The last queued append; the next one starts when it settles. */
  tail: Promise<unknown>;
  queued: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class JetStreamStore implements MessageStore {
  readonly kind = "nats" as const;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #opts: JetStreamStoreOptions;
  readonly #rooms = new Map<string, RoomWriter>();
  readonly #maxRetries: number;
  readonly #reads: JetStreamReadMarkers;
  readonly #edits: JetStreamEditStates;
  #connected = true;
  #closed = false;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, opts: JetStreamStoreOptions) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jetstream(nc, { timeout: opts.requestTimeoutMs });
    this.#opts = opts;
    this.#maxRetries = opts.maxConflictRetries ?? DEFAULT_MAX_CONFLICT_RETRIES;
    this.#reads = new JetStreamReadMarkers(this.#js, jsm, opts.stream, opts.subjectPrefix, opts.replicas);
    this.#edits = new JetStreamEditStates(this.#js, jsm, opts.stream, opts.subjectPrefix, opts.replicas);
    void this.#watchStatus();
  }

  /** Connects, creates the stream (or brings its replicas and settings to the options) and returns the store. */
  static async open(opts: JetStreamStoreOptions): Promise<JetStreamStore> {
    const nc = await connectToNats(opts.servers, opts.connectionName, opts.requestTimeoutMs);
    try {
      const jsm = await jetstreamManager(nc, { timeout: opts.requestTimeoutMs });
      await ensureStream(jsm, messageStream(opts));
      return new JetStreamStore(nc, jsm, opts);
    } catch (err) {
      await nc.close().catch(() => {});
      throw backendFailure("nats", err, `cannot set up stream ${opts.stream}`);
    }
  }

  append(room: string, input: AppendInput): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new StoreError("store_closed", "store is closed"));
    try {
      checkAppend(room, input);
    } catch (err) {
      return Promise.reject(err);
    }
    // Fail fast while disconnected instead of queueing publishes in the client
    // until their timeout: the caller's retry goes to a healthier moment.
    if (!this.#connected) return Promise.reject(new StoreError("store_unavailable", "nats: disconnected"));
    let writer = this.#rooms.get(room);
    if (writer === undefined) {
      writer = { head: undefined, tail: Promise.resolve(), queued: 0 };
      this.#rooms.set(room, writer);
    }
    const w = writer;
    // Appends to one room run one after another (one publish round trip each);
    // a hot room must not hold the process's shared in-flight slots and starve
    // every other room, so its backlog is bounded and the excess is refused as
    // retryable overload.
    if (w.queued >= (this.#opts.maxQueuedPerRoom ?? DEFAULT_MAX_QUEUED_PER_ROOM)) {
      return Promise.reject(
        new StoreError("overloaded", `room has ${w.queued} appends waiting; retry shortly`),
      );
    }
    w.queued++;
    const appended = w.tail.then(() => this.#appendInOrder(room, w, input));
    // An edit's or delete's state follows its event (also for a resent one: that repairs a state a crash skipped).
    const kind = input.kind;
    const run =
      kind === undefined
        ? appended
        : appended.then(async (r) => {
            const event = { seq: r.seq, ts: r.ts, kind, body: input.body };
            await this.#edits.apply(room, input.target ?? 0, event).catch((err: unknown) => {
              throw backendFailure("nats", err, "edit state update failed");
            });
            return r;
          });
    w.tail = run.then(
      () => this.#settled(room, w),
      () => this.#settled(room, w),
    );
    return run;
  }

  async read(room: string, options: ReadOptions): Promise<ReadResult> {
    if (this.#closed) throw new StoreError("store_closed", "store is closed");
    checkRoom(room);
    checkLimit(options.limit);
    if (!this.#connected) throw new StoreError("store_unavailable", "nats: disconnected");
    const subject = this.#subject(room);
    try {
      const head = await this.#loadHead(subject);
      const headSeq = head.roomSeq;
      const since = options.since ?? Math.max(0, headSeq - options.limit);
      if (since >= headSeq) return { messages: [], lastSeq: since, complete: true, headSeq };
      const start = await this.#findStart(subject, since, head);
      const messages: StoredMessage[] = [];
      const batch = await this.#jsm.direct.getBatch(this.#opts.stream, {
        seq: start,
        next_by_subj: subject,
        batch: options.limit,
      });
      for await (const sm of batch) {
        const m = toStored(room, sm);
        if (m.seq > since) messages.push(m);
        if (messages.length >= options.limit) break;
      }
      const lastSeq = messages.at(-1)?.seq ?? since;
      const complete = lastSeq >= headSeq;
      if (options.view !== "current") return { messages, lastSeq, complete, headSeq };
      const states = await this.#edits.states(
        room,
        messages.filter((m) => m.kind === "message").map((m) => m.seq),
      );
      return { messages: currentView(messages, (seq) => states.get(seq)), lastSeq, complete, headSeq };
    } catch (err) {
      throw backendFailure("nats", err, "read failed");
    }
  }

  async setReadMarker(room: string, user: string, seq: number): Promise<number> {
    if (this.#closed) throw new StoreError("store_closed", "store is closed");
    checkRoom(room);
    try {
      return await this.#reads.set(room, user, seq);
    } catch (err) {
      throw backendFailure("nats", err, "read marker update failed");
    }
  }

  async getReadMarkers(room: string, users: readonly string[]): Promise<Map<string, number>> {
    if (this.#closed) throw new StoreError("store_closed", "store is closed");
    checkRoom(room);
    try {
      return await this.#reads.get(room, users);
    } catch (err) {
      throw backendFailure("nats", err, "read marker query failed");
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#rooms.values()].map((w) => w.tail));
    await this.#nc.close().catch(() => {});
  }

  #subject(room: string): string {
    return `${this.#opts.subjectPrefix}.room.${encodeRoom(room)}`;
  }

  async #appendInOrder(room: string, w: RoomWriter, input: AppendInput): Promise<AppendResult> {
    const subject = this.#subject(room);
    const data = encoder.encode(input.body);
    // The room is part of the id: JetStream deduplicates per stream, ids are per room.
    const msgID = `${room.length}:${room}:${input.id}`;
    const ts = Date.now();
    try {
      for (let attempt = 0; attempt <= this.#maxRetries; attempt++) {
        // The first try reads the head with a direct get, which any replica
        // answers without queueing behind the JetStream API; a stale answer
        // only costs a wrong-last-sequence refusal from the leader, after which
        // the head comes from the leader.
        if (w.head === undefined)
          w.head = attempt === 0 ? await this.#peekHead(subject) : await this.#loadHead(subject);
        const head = w.head;
        const seq = head.roomSeq + 1;
        const h = headers();
        h.set(CHAT_SEQ, String(seq));
        h.set(CHAT_ID, input.id);
        h.set(CHAT_FROM, input.from);
        h.set(CHAT_TS, String(ts));
        if (input.kind !== undefined) {
          h.set(CHAT_KIND, input.kind);
          h.set(CHAT_TARGET, String(input.target));
        }
        let ack: { seq: number; duplicate: boolean };
        try {
          ack = await this.#js.publish(subject, data, {
            msgID,
            headers: h,
            expect: { lastSubjectSequence: head.streamSeq },
            timeout: this.#opts.requestTimeoutMs,
          });
        } catch (err) {
          w.head = undefined;
          if (isWrongLastSequence(err)) {
            // Another writer appended first: re-read the head and try again, with
            // a little jitter once the race repeats so writers spread out.
            if (attempt > 2) await sleep(Math.random() * Math.min(20, attempt));
            continue;
          }
          throw err;
        }
        if (ack.duplicate) return await this.#original(ack.seq, input.id);
        w.head = { streamSeq: ack.seq, roomSeq: seq };
        return { seq, prev: seq - 1, ts, duplicate: false, from: input.from };
      }
    } catch (err) {
      w.head = undefined;
      throw backendFailure("nats", err, "append failed");
    }
    throw new StoreError("store_conflict", `gave up after ${this.#maxRetries} lost races for one room`);
  }

  /** Reads back the message a duplicate publish pointed at. */
  async #original(streamSeq: number, id: string): Promise<AppendResult> {
    const sm = await this.#jsm.streams.getMessage(this.#opts.stream, { seq: streamSeq });
    if (sm === null) {
      throw new StoreError("store_unavailable", `duplicate of stream seq ${streamSeq}, which is gone`);
    }
    const seq = Number(sm.header.get(CHAT_SEQ));
    if (sm.header.get(CHAT_ID) !== id || !(seq > 0)) {
      throw new StoreError("store_unavailable", `stream seq ${streamSeq} is not the original of ${id}`);
    }
    return {
      seq,
      prev: seq - 1,
      ts: Number(sm.header.get(CHAT_TS)),
      duplicate: true,
      from: sm.header.get(CHAT_FROM),
    };
  }

  /**
   * The room's last message by a direct get: fast, but a lagging replica may
   * answer. While the cluster moves (a replica stalled or gone, "no
   * responders") the leader answers instead.
   */
  async #peekHead(subject: string): Promise<Head> {
    let sm: StoredMsg | null;
    try {
      sm = await this.#jsm.direct.getMessage(this.#opts.stream, { last_by_subj: subject });
    } catch {
      return this.#loadHead(subject);
    }
    if (sm === null) return { streamSeq: 0, roomSeq: 0 };
    return { streamSeq: sm.seq, roomSeq: Number(sm.header.get(CHAT_SEQ)) };
  }

  /** The room's last message via the stream leader (direct gets may come from a lagging replica). */
  async #loadHead(subject: string): Promise<Head> {
    const sm = await this.#jsm.streams.getMessage(this.#opts.stream, { last_by_subj: subject });
    if (sm === null) return { streamSeq: 0, roomSeq: 0 };
    return { streamSeq: sm.seq, roomSeq: Number(sm.header.get(CHAT_SEQ)) };
  }

  /**
   * Stream seq of room seq since+1 (or of the first later one that still exists).
   * `found` is always a stream seq at or after the answer, from which the first
   * message of the room is the answer; [lo, hi] is what is left to search.
   */
  async #findStart(subject: string, since: number, head: Head): Promise<number> {
    if (since === 0) return 1;
    let lo = since + 1;
    let found = head.streamSeq - (head.roomSeq - since - 1);
    let hi = found - 1;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const sm = await this.#jsm.direct.getMessage(this.#opts.stream, { seq: mid, next_by_subj: subject });
      if (sm === null) break;
      if (Number(sm.header.get(CHAT_SEQ)) > since) {
        found = Math.min(found, sm.seq);
        hi = mid - 1;
      } else {
        lo = sm.seq + 1;
      }
    }
    return found;
  }

  #settled(room: string, w: RoomWriter): void {
    w.queued--;
    if (w.queued === 0 && this.#rooms.size > MAX_CACHED_ROOMS) this.#rooms.delete(room);
  }

  async #watchStatus(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === "disconnect") this.#connected = false;
      else if (s.type === "reconnect") {
        this.#connected = true;
        // Another process may have written while we were away.
        for (const w of this.#rooms.values()) w.head = undefined;
      }
    }
  }
}

/** The message stream: every room's messages, deduplicated by client id within the window. */
function messageStream(opts: JetStreamStoreOptions): StreamSpec {
  return {
    name: opts.stream,
    subject: `${opts.subjectPrefix}.room.>`,
    replicas: opts.replicas,
    settings: {
      duplicate_window: nanos(opts.duplicateWindowMs),
      allow_direct: true,
      max_age: nanos(opts.maxAgeMs ?? 0),
    },
  };
}

function toStored(room: string, sm: StoredMsg): StoredMessage {
  const seq = Number(sm.header.get(CHAT_SEQ));
  const kind = sm.header.get(CHAT_KIND);
  return {
    room,
    seq,
    prev: seq - 1,
    id: sm.header.get(CHAT_ID),
    from: sm.header.get(CHAT_FROM),
    ts: Number(sm.header.get(CHAT_TS)),
    body: decoder.decode(sm.data),
    kind: kind === "edit" || kind === "delete" ? kind : "message",
    target: kind === "edit" || kind === "delete" ? Number(sm.header.get(CHAT_TARGET)) : 0,
  };
}

/**
 * Room names are `.`-separated segments already (see input-checks.ts), so they
 * map onto subject tokens; anything outside a safe set is percent-encoded so a
 * subject stays readable in `nats stream view` and never contains wildcards.
 */
export function encodeRoom(room: string): string {
  return room
    .split(".")
    .map((seg) =>
      encodeURIComponent(seg).replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    )
    .join(".");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
