import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { isNoMessage } from "./jetstream-errors.ts";
import { LastPerSubjectStream } from "./jetstream-kv-stream.ts";
import type { ModerationEntry, ModerationStore } from "./moderation-store.ts";
import { connectToNats } from "./nats-connection.ts";
import { backendFailure } from "./store-error.ts";

/** Entries one changes() call reads at most. */
const PAGE = 1000;
const decoder = new TextDecoder();

/**
 * Bans and revocations in JetStream: a stream `<stream>_MODERATION` keeping
 * the last message per subject `<prefix>.mod.<kind>.<hex key>` (an entry
 * replaces the one before it), read by every logic process from a stream
 * sequence on: `changes(cursor)` is one batched direct get after the cursor.
 * Replicated like the message stream, so it survives what that survives.
 */
export class JetStreamModeration implements ModerationStore {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #kv: LastPerSubjectStream;
  readonly #prefix: string;

  private constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    o: { stream: string; subjectPrefix: string; replicas: number; requestTimeoutMs: number },
  ) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jetstream(nc, { timeout: o.requestTimeoutMs });
    this.#prefix = o.subjectPrefix;
    this.#kv = new LastPerSubjectStream(
      jsm,
      `${o.stream}_MODERATION`,
      `${o.subjectPrefix}.mod.>`,
      o.replicas,
    );
  }

  static async open(o: {
    servers: readonly string[];
    stream: string;
    subjectPrefix: string;
    replicas: number;
    requestTimeoutMs: number;
    connectionName: string;
  }): Promise<JetStreamModeration> {
    const nc = await connectToNats(o.servers, `${o.connectionName}-moderation`, o.requestTimeoutMs);
    try {
      const m = new JetStreamModeration(nc, await jetstreamManager(nc, { timeout: o.requestTimeoutMs }), o);
      await m.#kv.ensure();
      return m;
    } catch (err) {
      await nc.close().catch(() => {});
      throw backendFailure("nats", err, `cannot set up stream ${o.stream}_MODERATION`);
    }
  }

  async put(e: ModerationEntry): Promise<void> {
    try {
      await this.#kv.ensure();
      const subject = `${this.#prefix}.mod.${e.kind}.${Buffer.from(e.key).toString("hex")}`;
      await this.#js.publish(subject, JSON.stringify(e));
    } catch (err) {
      throw backendFailure("nats", err, "moderation write failed");
    }
  }

  async changes(cursor: number): Promise<{ entries: ModerationEntry[]; cursor: number }> {
    const entries: ModerationEntry[] = [];
    let next = cursor;
    try {
      await this.#kv.ensure();
      const batch = await this.#jsm.direct.getBatch(this.#kv.name, { seq: cursor + 1, batch: PAGE });
      for await (const sm of batch) {
        entries.push(JSON.parse(decoder.decode(sm.data)) as ModerationEntry);
        next = sm.seq;
      }
    } catch (err) {
      // Nothing after the cursor.
      if (isNoMessage(err)) return { entries, cursor: next };
      throw backendFailure("nats", err, "moderation read failed");
    }
    return { entries, cursor: next };
  }

  async close(): Promise<void> {
    await this.#nc.close().catch(() => {});
  }
}
