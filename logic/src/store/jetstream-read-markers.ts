import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { storeStreamNames } from "../../../platform/store-streams.ts";
import { StoreError } from "./store-error.ts";
import { ensureStream } from "./stream-setup.ts";

/**
 * Read markers in JetStream: a second stream `<stream>_READS` keeping only
 * the last message per subject `<prefix>.read.<hex room>.<hex user>` (a
 * key-value bucket by hand, so no extra package). A marker only moves
 * forward: each update publishes with `Nats-Expected-Last-Subject-Sequence`
 * of the value it read, and a writer that lost the race re-reads.
 */
export class JetStreamReadMarkers {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #stream: string;
  readonly #prefix: string;
  readonly #replicas: number;
  #ready: Promise<void> | null = null;

  constructor(js: JetStreamClient, jsm: JetStreamManager, stream: string, prefix: string, replicas: number) {
    this.#js = js;
    this.#jsm = jsm;
    this.#stream = storeStreamNames(stream).readMarkers;
    this.#prefix = prefix;
    this.#replicas = replicas;
  }

  async set(room: string, user: string, seq: number): Promise<number> {
    await this.#ensure();
    const subject = this.#subject(room, user);
    for (let attempt = 0; attempt < 20; attempt++) {
      const sm = await this.#jsm.streams.getMessage(this.#stream, { last_by_subj: subject });
      const current = sm === null ? 0 : Number(sm.string());
      if (current >= seq) return current;
      try {
        await this.#js.publish(subject, String(seq), { expect: { lastSubjectSequence: sm?.seq ?? 0 } });
        return seq;
      } catch (err) {
        if (
          err instanceof JetStreamApiError &&
          (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
            err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
        )
          continue;
        throw err;
      }
    }
    throw new StoreError("store_conflict", "read marker: too many concurrent updates");
  }

  async get(room: string, users: readonly string[]): Promise<Map<string, number>> {
    await this.#ensure();
    const found = await Promise.all(
      users.map((u) => this.#jsm.direct.getMessage(this.#stream, { last_by_subj: this.#subject(room, u) })),
    );
    const out = new Map<string, number>();
    users.forEach((u, i) => {
      const sm = found[i];
      if (sm) out.set(u, Number(sm.string()));
    });
    return out;
  }

  #subject(room: string, user: string): string {
    return `${this.#prefix}.read.${Buffer.from(room).toString("hex")}.${Buffer.from(user).toString("hex") || "00"}`;
  }

  #ensure(): Promise<void> {
    if (this.#ready === null) {
      this.#ready = this.#create().catch((err: unknown) => {
        this.#ready = null;
        throw err;
      });
    }
    return this.#ready;
  }

  async #create(): Promise<void> {
    await ensureStream(this.#jsm, {
      name: this.#stream,
      subject: `${this.#prefix}.read.>`,
      replicas: this.#replicas,
      settings: { max_msgs_per_subject: 1, allow_direct: true },
    });
  }
}
