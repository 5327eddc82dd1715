import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { type CurrentState, nextState } from "./edit-state.ts";
import { isNoMessage, isWrongLastSequence } from "./jetstream-errors.ts";
import { LastPerSubjectStream } from "./jetstream-kv-stream.ts";
import { StoreError } from "./store-error.ts";

/** Conditional writes of one state before giving up with store_conflict. */
const MAX_ATTEMPTS = 10;
const decoder = new TextDecoder();

/**
 * The current state of edited and deleted messages in JetStream: a stream
 * `<stream>_EDITS` keeping only the last message per subject
 * `<prefix>.edit.<hex room>.<seq>` (a key-value bucket by hand), whose value
 * is the state after the message's last edit or delete. The event itself is
 * in the room's sequence first; the state follows it, written with
 * `Nats-Expected-Last-Subject-Sequence` of the state it replaces and by the
 * one rule of edit-state.ts, so a late or repeated writer cannot undo a newer
 * event. A writer that died between the two is repaired by the retry of the
 * same edit (the store deduplicates the event and writes the state again).
 */
export class JetStreamEditStates {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #stream: string;
  readonly #prefix: string;
  readonly #kv: LastPerSubjectStream;

  constructor(js: JetStreamClient, jsm: JetStreamManager, stream: string, prefix: string, replicas: number) {
    this.#js = js;
    this.#jsm = jsm;
    this.#stream = `${stream}_EDITS`;
    this.#prefix = prefix;
    this.#kv = new LastPerSubjectStream(jsm, this.#stream, `${prefix}.edit.>`, replicas);
  }

  /** Applies an edit or delete event (seq, ts) to the state of message `target`. */
  async apply(
    room: string,
    target: number,
    event: { seq: number; ts: number; kind: "edit" | "delete"; body: string },
  ): Promise<void> {
    await this.#kv.ensure();
    const subject = this.#subject(room, target);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const sm = await this.#jsm.streams.getMessage(this.#stream, { last_by_subj: subject });
      const next = nextState(sm === null ? undefined : parse(sm.data), event);
      if (next === undefined) return;
      try {
        await this.#js.publish(subject, JSON.stringify(next), {
          expect: { lastSubjectSequence: sm?.seq ?? 0 },
        });
        return;
      } catch (err) {
        if (isWrongLastSequence(err)) continue;
        throw err;
      }
    }
    throw new StoreError("store_conflict", "edit state: too many concurrent updates");
  }

  /** The states of the given messages of a room (those never edited are absent): one request. */
  async states(room: string, seqs: readonly number[]): Promise<Map<number, CurrentState>> {
    const out = new Map<number, CurrentState>();
    if (seqs.length === 0) return out;
    await this.#kv.ensure();
    const prefix = this.#subject(room, 0).slice(0, -1);
    try {
      const found = await this.#jsm.direct.getLastMessagesFor(this.#stream, {
        multi_last: seqs.map((s) => this.#subject(room, s)),
      });
      for await (const sm of found) out.set(Number(sm.subject.slice(prefix.length)), parse(sm.data));
    } catch (err) {
      // None of the subjects has a message: nothing in this page was ever edited.
      if (!isNoMessage(err)) throw err;
    }
    return out;
  }

  #subject(room: string, seq: number): string {
    return `${this.#prefix}.edit.${Buffer.from(room).toString("hex")}.${seq}`;
  }
}

function parse(data: Uint8Array): CurrentState {
  return JSON.parse(decoder.decode(data)) as CurrentState;
}
