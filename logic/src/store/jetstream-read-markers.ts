import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { storeStreamNames } from "../../../platform/store-streams.ts";
import { isWrongLastSequence } from "./jetstream-errors.ts";
import { LastPerSubjectStream } from "./jetstream-kv-stream.ts";
import { StoreError } from "./store-error.ts";

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
  readonly #kv: LastPerSubjectStream;

  constructor(js: JetStreamClient, jsm: JetStreamManager, stream: string, prefix: string, replicas: number) {
    this.#js = js;
    this.#jsm = jsm;
    this.#stream = storeStreamNames(stream).readMarkers;
    this.#prefix = prefix;
    this.#kv = new LastPerSubjectStream(jsm, this.#stream, `${prefix}.read.>`, replicas);
  }

  async set(room: string, user: string, seq: number): Promise<number> {
    await this.#kv.ensure();
    const subject = this.#subject(room, user);
    for (let attempt = 0; attempt < 20; attempt++) {
      const sm = await this.#jsm.streams.getMessage(this.#stream, { last_by_subj: subject });
      const current = sm === null ? 0 : Number(sm.string());
      if (current >= seq) return current;
      try {
        await this.#js.publish(subject, String(seq), { expect: { lastSubjectSequence: sm?.seq ?? 0 } });
        return seq;
      } catch (err) {
        if (isWrongLastSequence(err)) continue;
        throw err;
      }
    }
    throw new StoreError("store_conflict", "read marker: too many concurrent updates");
  }

  async get(room: string, users: readonly string[]): Promise<Map<string, number>> {
    await this.#kv.ensure();
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
}
