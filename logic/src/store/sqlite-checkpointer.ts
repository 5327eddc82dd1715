import { Worker } from "node:worker_threads";

/**
 * WAL checkpoints of a SQLite file in a worker thread, so they do not stop
 * the event loop. SQLite's automatic checkpoint runs inside the commit that
 * pushes the WAL past 1,000 pages: it copies those pages into the database
 * and syncs the file, which measured here took tens of milliseconds (100+ on
 * a busy machine) of the committing process's only thread, every few hundred
 * appends, and set the send path's latency tail. Here a thread with its own
 * connection runs `wal_checkpoint(PASSIVE)` when the WAL passes `walBytes`:
 * a passive checkpoint never waits for the writer or readers, and once it has
 * copied everything the next write transaction starts the WAL over.
 *
 * The writer keeps SQLite's automatic checkpoint at a high mark as a
 * backstop (a stopped or slow thread must not let the WAL grow without end).
 */
export interface CheckpointerOptions {
  /** The database file (its WAL is `${path}-wal`). */
  readonly path: string;
  /** WAL size that starts a checkpoint. */
  readonly walBytes: number;
  /** How often the thread looks at the WAL's size. */
  readonly intervalMs: number;
}

/** The worker's module: the built JavaScript in dist/, the TypeScript source in a checkout. */
const WORKER = new URL(
  `./sqlite-checkpoint-worker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`,
  import.meta.url,
);

export class SqliteCheckpointer {
  readonly #worker: Worker;

  constructor(o: CheckpointerOptions) {
    this.#worker = new Worker(WORKER, { workerData: o });
    // A checkpointer that fails leaves the backstop to SQLite; it never takes the process down.
    this.#worker.on("error", () => {});
    this.#worker.unref();
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
