// A separate process that appends to one room, for the stores' concurrency
// tests: `node append-writer.ts '<WriterSpec JSON>'`. Prints one JSON line:
// { results: [{ id, seq }] }.
import { JetStreamStore, type JetStreamStoreOptions } from "../jetstream-store.ts";
import type { MessageStore } from "../message-store.ts";
import { SqliteStore } from "../sqlite-store.ts";

export type WriterSpec = {
  readonly room: string;
  readonly writer: string;
  readonly count: number;
  /** Appends in flight at once from this writer. */
  readonly concurrency: number;
} & (
  | { readonly kind: "sqlite"; readonly dataDir: string }
  | { readonly kind: "nats"; readonly options: JetStreamStoreOptions }
);

export async function openWriterStore(spec: WriterSpec): Promise<MessageStore> {
  return spec.kind === "sqlite"
    ? new SqliteStore({ dataDir: spec.dataDir })
    : JetStreamStore.open(spec.options);
}

/** Appends `count` messages with ids `<writer>-<n>`, `concurrency` at a time. */
export async function runWriter(
  store: MessageStore,
  spec: WriterSpec,
): Promise<{ id: string; seq: number }[]> {
  const results: { id: string; seq: number }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < spec.count) {
      const id = `${spec.writer}-${next++}`;
      const r = await store.append(spec.room, { id, from: spec.writer, body: JSON.stringify({ id }) });
      results.push({ id, seq: r.seq });
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  return results;
}

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2] ?? "{}") as WriterSpec;
  const store = await openWriterStore(spec);
  try {
    const results = await runWriter(store, spec);
    process.stdout.write(`${JSON.stringify({ results })}\n`);
  } finally {
    await store.close();
  }
}
