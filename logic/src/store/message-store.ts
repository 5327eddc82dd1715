/**
 * The one contract every message store implements: an append-only log per room
 * with a gap-free sequence, deduplication on the sender's message id, and paged
 * history. Handlers and the server API depend on this interface only.
 */

/**
 * What an event of a room's sequence is: a message, or a new body for an
 * earlier message (edit), or its deletion (delete). Edits and deletes take a
 * seq of their own, so a client that was away gets them in order on resume.
 */
export type MessageKind = "message" | "edit" | "delete";

/** What a sender hands to the store. `body` is JSON text, kept byte for byte. */
export interface AppendInput {
  /** The sender's message id; a second append with the same (room, id) is a duplicate. */
  readonly id: string;
  /** The sender's user id. */
  readonly from: string;
  /** The message body as JSON text (validated by the caller); the new body of an edit; `null` for a delete. */
  readonly body: string;
  /** Absent: a message. */
  readonly kind?: "edit" | "delete";
  /** For an edit or a delete: the seq of the message it acts on (the caller checked it exists). */
  readonly target?: number;
}

/** A message's current state after its edits and deletes (the current view of history). */
export interface EditState {
  /** The seq of the last edit or delete applied. */
  readonly seq: number;
  /** When it was stored, ms since the Unix epoch. */
  readonly ts: number;
  /** Deleted: a delete is final, later edits change nothing. */
  readonly deleted: boolean;
}

/** Where an append landed. For a duplicate, the original message's values. */
export interface AppendResult {
  /** Sequence number in the room: 1, 2, 3, ... without gaps. */
  readonly seq: number;
  /** The previous message's seq in the room, 0 for the first. Always seq - 1. */
  readonly prev: number;
  /** When the store accepted the message, milliseconds since the Unix epoch. */
  readonly ts: number;
  /** True when (room, id) was stored before and this append stored nothing. */
  readonly duplicate: boolean;
  /** The stored message's sender: the input's, or for a duplicate the original's. */
  readonly from: string;
}

/** A message as the store keeps it. */
export interface StoredMessage {
  readonly room: string;
  readonly seq: number;
  readonly prev: number;
  readonly id: string;
  readonly from: string;
  readonly ts: number;
  /** JSON text exactly as appended (current view: the last edit's body, `null` when deleted). */
  readonly body: string;
  readonly kind: MessageKind;
  /** For an edit or a delete: the seq of the message it acts on; 0 for a message. */
  readonly target: number;
  /** Current view only: the last edit or delete applied, when there was one. */
  readonly edit?: EditState;
}

export interface ReadOptions {
  /** Events with seq > since. Absent: the latest page (the last `limit` events). */
  readonly since?: number;
  /** Page size (events covered), at least 1. Callers clamp it to their configured maximum. */
  readonly limit: number;
  /**
   * `events` (default): every event of the range. `current`: the messages of
   * the same range only, each as it is now (the edits and deletes applied),
   * so a page may hold fewer than `limit`.
   */
  readonly view?: "events" | "current";
}

export interface ReadResult {
  /** Ascending seq, at most `limit`. */
  readonly messages: readonly StoredMessage[];
  /** The last seq the page covered (with the current view, maybe past its last message); `since` when none. */
  readonly lastSeq: number;
  /** True when no event after the range of this page existed at read time. */
  readonly complete: boolean;
  /** The room's latest seq at read time, 0 for an empty room. */
  readonly headSeq: number;
}

export interface MessageStore {
  /** Which implementation this is, for logs and metrics labels. */
  readonly kind: StoreKind;
  /** Throws StoreError (`store_unavailable` and `store_conflict` are retryable). */
  append(room: string, input: AppendInput): Promise<AppendResult>;
  /** Throws StoreError. */
  read(room: string, options: ReadOptions): Promise<ReadResult>;
  /**
   * Moves the user's read marker in the room forward to `seq` (never back);
   * returns the marker after the call. Throws StoreError.
   */
  setReadMarker(room: string, user: string, seq: number): Promise<number>;
  /** The read markers of `users` in the room; users without one are absent. Throws StoreError. */
  getReadMarkers(room: string, users: readonly string[]): Promise<Map<string, number>>;
  /** Finishes or fails what is pending, then releases connections and files. Idempotent. */
  close(): Promise<void>;
}

/** "memory" is the test-only store of testing/memory-store.ts, never configurable. */
export type StoreKind = "sqlite" | "nats" | "memory";
