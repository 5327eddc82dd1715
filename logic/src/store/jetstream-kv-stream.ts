import type { JetStreamManager } from "@nats-io/jetstream";
import { ensureStream } from "./stream-setup.ts";

/**
 * A stream keeping only the last message per subject: a key-value bucket by
 * hand (no extra package), for read markers, edit states and moderation.
 * Created (or brought to the configured replicas) on first use, once per
 * process, like the other streams (stream-setup.ts); a failed attempt is
 * tried again next time.
 */
export class LastPerSubjectStream {
  readonly name: string;
  readonly #jsm: JetStreamManager;
  readonly #subject: string;
  readonly #replicas: number;
  #ready: Promise<void> | null = null;

  constructor(jsm: JetStreamManager, name: string, subject: string, replicas: number) {
    this.#jsm = jsm;
    this.name = name;
    this.#subject = subject;
    this.#replicas = replicas;
  }

  ensure(): Promise<void> {
    if (this.#ready === null) {
      this.#ready = ensureStream(this.#jsm, {
        name: this.name,
        subject: this.#subject,
        replicas: this.#replicas,
        settings: { max_msgs_per_subject: 1, allow_direct: true },
      }).then(
        () => {},
        (err: unknown) => {
          this.#ready = null;
          throw err;
        },
      );
    }
    return this.#ready;
  }
}
