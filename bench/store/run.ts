// make bench-store: the message store alone, each kind in this process
// (SQLite with synchronous=normal and =full, JetStream on a local
// nats-server): appends per second with 256 in flight, into one room and
// spread over 100 rooms, and the time to read a 50-message page. Writes
// bench/results/store.json and its section of bench/RESULTS.md.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JetStreamStore } from "../../logic/src/store/jetstream-store.ts";
import type { MessageStore } from "../../logic/src/store/message-store.ts";
import { SqliteStore } from "../../logic/src/store/sqlite-store.ts";
import { startNats } from "../../testenv/harness/index.ts";
import { describeProvenance, startProvenance } from "../provenance/provenance.ts";
import { writeResult } from "../results-file.ts";

const provenance = startProvenance("bench/results/store.json");
const APPENDS = Number(process.env.BENCH_STORE_APPENDS ?? 20_000);
const IN_FLIGHT = 256;
const BODY = JSON.stringify({ text: "x".repeat(1100) });
const log = (m: string) => process.stderr.write(`bench-store: ${m}\n`);
let run = 0;

/** Appends/s with IN_FLIGHT appends outstanding, into `rooms` rooms round-robin. */
async function appendRate(store: MessageStore, rooms: number, n: number): Promise<number> {
  const prefix = `r${++run}`;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await store.append(`${prefix}.room-${i % rooms}`, { id: `${prefix}-${i}`, from: "bench", body: BODY });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return Math.round(n / ((performance.now() - t0) / 1000));
}

/** Median time of 20 reads of a 50-message page from the middle of a 1,000-message room. */
async function pageMs(store: MessageStore): Promise<number> {
  const room = `page${++run}`;
  for (let i = 0; i < 1000; i += 100)
    await Promise.all(
      Array.from({ length: 100 }, (_, k) =>
        store.append(room, { id: `p${i + k}`, from: "bench", body: BODY }),
      ),
    );
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const r = await store.read(room, { since: 400 + i, limit: 50 });
    times.push(performance.now() - t0);
    if (r.messages.length !== 50) throw new Error(`page of ${r.messages.length}`);
  }
  times.sort((a, b) => a - b);
  return Math.round((times[10] ?? 0) * 100) / 100;
}

async function measure(name: string, store: MessageStore) {
  await appendRate(store, 10, 2000); // warm-up
  const oneRoom = await appendRate(store, 1, APPENDS);
  const hundredRooms = await appendRate(store, 100, APPENDS);
  const page = await pageMs(store);
  log(
    `${name}: ${oneRoom} appends/s into one room, ${hundredRooms}/s over 100 rooms, 50-message page ${page} ms`,
  );
  return { appends_per_s_one_room: oneRoom, appends_per_s_100_rooms: hundredRooms, page_50_ms: page };
}

const dir = mkdtempSync(join(tmpdir(), "cc-bench-store-"));
const out: Record<string, unknown> = {};
try {
  for (const synchronous of ["normal", "full"] as const) {
    const s = new SqliteStore({ dataDir: dir, fileName: `${synchronous}.db`, synchronous });
    out[`sqlite_${synchronous}`] = await measure(`SQLite synchronous=${synchronous}`, s);
    await s.close();
  }
  const nats = await startNats({ name: "bench-store" });
  try {
    const js = await JetStreamStore.open({
      servers: [nats.url],
      stream: "CC_BENCH",
      subjectPrefix: "ccbench",
      duplicateWindowMs: 120_000,
      requestTimeoutMs: 10_000,
      replicas: 1,
      connectionName: "bench-store",
      maxQueuedPerRoom: APPENDS,
    });
    out.jetstream = await measure("JetStream", js);
    await js.close();
  } finally {
    await nats.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const prov = provenance.finish();
const result = { appends: APPENDS, in_flight: IN_FLIGHT, body_bytes: BODY.length, ...out, provenance: prov };
type Row = { appends_per_s_one_room: number; appends_per_s_100_rooms: number; page_50_ms: number };
const row = (label: string, r: Row) =>
  `| ${label} | ${r.appends_per_s_one_room.toLocaleString("en-US")} | ${r.appends_per_s_100_rooms.toLocaleString("en-US")} | ${r.page_50_ms} ms |`;
writeResult("store", result, [
  "## The message store alone, `make bench-store`",
  "",
  `${APPENDS.toLocaleString("en-US")} appends of ${BODY.length} B bodies per run, ${IN_FLIGHT} in flight, in this process; a 50-message page read from a`,
  "1,000-message room (median of 20).",
  `Measured at ${describeProvenance(prov)}.`,
  "",
  "| store | appends/s, one room | appends/s, 100 rooms | 50-message page |",
  "| --- | ---: | ---: | ---: |",
  row("SQLite, synchronous=normal (default)", out.sqlite_normal as Row),
  row("SQLite, synchronous=full", out.sqlite_full as Row),
  row("JetStream, one local nats-server", out.jetstream as Row),
]);
process.exit(0);
