// make bench-presence: presence queries on a 100,000-member room with each
// store. Writes bench/results/presence.json and its section of bench/RESULTS.md.
//
// The room holds 100,000 users, 10,000 of them also on a second gateway
// (counted once). Measured: exact count + first page of 100 (median of 5),
// a page from the middle, and, for JetStream, how long a logic process
// started later takes to load the table.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { JetStreamPresenceTable } from "../../logic/src/store/jetstream-presence-table.ts";
import type { PresenceTable } from "../../logic/src/store/presence-table.ts";
import { SqlitePresenceTable } from "../../logic/src/store/sqlite-presence-table.ts";
import { createLogger } from "../../platform/logger.ts";
import { startNats } from "../../testenv/harness/index.ts";
import { describeProvenance, startProvenance } from "../provenance/provenance.ts";
import { writeResult } from "../results-file.ts";

const MEMBERS = 100_000;
const provenance = startProvenance("bench/results/presence.json");
const user = (j: number) => `user-${String(j).padStart(6, "0")}`;
const log = (m: string) => process.stderr.write(`bench-presence: ${m}\n`);
const round2 = (x: number) => Math.round(x * 100) / 100;

/** Count + first page five times (median), then a page from the middle. */
async function query(t: PresenceTable): Promise<{ first_page_median_ms: number; middle_page_ms: number }> {
  await t.page("big", "", 100);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    const p = await t.page("big", "", 100);
    times.push(performance.now() - s);
    if (p.total !== MEMBERS || p.users[0] !== user(0)) throw new Error(`wrong page: total ${p.total}`);
  }
  const s = performance.now();
  const mid = await t.page("big", user(MEMBERS / 2), 100);
  const middle = performance.now() - s;
  if (mid.users[0] !== user(MEMBERS / 2 + 1)) throw new Error(`wrong middle page: ${mid.users[0]}`);
  times.sort((a, b) => a - b);
  return { first_page_median_ms: round2(times[2] ?? 0), middle_page_ms: round2(middle) };
}

async function sqlite() {
  const dir = mkdtempSync(join(tmpdir(), "cc-bench-presence-"));
  try {
    const t = new SqlitePresenceTable({ dataDir: dir, fileName: "big.db" });
    const t0 = performance.now();
    for (let i = 0; i < MEMBERS; i += 1000) {
      const batch: Promise<boolean>[] = [];
      for (let j = i; j < i + 1000; j++) {
        batch.push(t.setOnline("big", user(j), "gw0/e1", 0, 600_000));
        if (j % 10 === 0) batch.push(t.setOnline("big", user(j), "gw1/e1", 0, 600_000));
      }
      await Promise.all(batch);
    }
    const fill = performance.now() - t0;
    const q = await query(t);
    await t.close();
    return { ...q, fill_110k_set_online_ms: Math.round(fill) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SWEPT = 20_000;

async function js0(url: string) {
  const nc = await connect({ servers: [url] });
  return { js: jetstream(nc), close: () => nc.close() };
}

/**
 * A gateway epoch that crashed holding SWEPT entries (its lease already over):
 * how soon the sweep announces the first departures and how fast it removes
 * them all.
 */
async function sweepCrashedGateway(
  t: PresenceTable,
  conn: Promise<{ js: ReturnType<typeof jetstream>; close(): Promise<void> }>,
  hex: (s: string) => string,
) {
  const { js, close } = await conn;
  const owner = hex("gw-crashed/e1");
  await js.publish(`cc_big.presence.l.${owner}`, String(Date.now() - 1));
  for (let i = 0; i < SWEPT; i += 2000) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < i + 2000; j++)
      batch.push(js.publish(`cc_big.presence.e.${hex(`room-${j % 200}`)}.${hex(user(j))}.${owner}`, "1"));
    await Promise.all(batch);
  }
  await close();
  let first = 0;
  let announced = 0;
  const t0 = performance.now();
  const gone = await t.expire(
    Date.now(),
    () => false,
    (d) => {
      if (first === 0) first = performance.now() - t0;
      announced += d.length;
    },
  );
  const ms = performance.now() - t0;
  if (gone !== SWEPT || announced !== SWEPT)
    throw new Error(`swept ${gone}, announced ${announced} of ${SWEPT}`);
  return {
    sweep_entries: SWEPT,
    sweep_first_departures_ms: Math.round(first),
    sweep_total_ms: Math.round(ms),
    sweep_entries_per_s: Math.round(SWEPT / (ms / 1000)),
  };
}

async function jetStream() {
  const nats = await startNats({ name: "bench-presence" });
  const open = (logicId: string) =>
    JetStreamPresenceTable.open({
      servers: [nats.url],
      stream: "CC_BIG",
      subjectPrefix: "cc_big",
      requestTimeoutMs: 60_000,
      replicas: 1,
      connectionName: logicId,
      log: createLogger("logic", "warn"),
    });
  try {
    const t = await open("l0");
    // Raw publishes of what 110,000 joins write (the table's own subjects).
    const nc = await connect({ servers: [nats.url] });
    const js = jetstream(nc);
    const hex = (s: string) => `x${Buffer.from(s).toString("hex")}`;
    const t0 = performance.now();
    await js.publish(`cc_big.presence.l.${hex("gw0/e1")}`, String(Date.now() + 600_000));
    await js.publish(`cc_big.presence.l.${hex("gw1/e1")}`, String(Date.now() + 600_000));
    for (let i = 0; i < MEMBERS; i += 2000) {
      const batch: Promise<unknown>[] = [];
      for (let j = i; j < i + 2000; j++) {
        const u = hex(user(j));
        batch.push(js.publish(`cc_big.presence.e.${hex("big")}.${u}.${hex("gw0/e1")}`, "1"));
        if (j % 10 === 0)
          batch.push(js.publish(`cc_big.presence.e.${hex("big")}.${u}.${hex("gw1/e1")}`, "1"));
      }
      await Promise.all(batch);
    }
    const fill = performance.now() - t0;
    await nc.close();
    const q = await query(t);
    const sweep = await sweepCrashedGateway(t, js0(nats.url), hex);
    const l0 = performance.now();
    const late = await open("l1");
    const load = performance.now() - l0;
    if ((await late.page("big", "", 1)).total !== MEMBERS) throw new Error("late loader saw another total");
    await late.close();
    await t.close();
    return {
      ...q,
      publish_110k_entries_ms: Math.round(fill),
      late_process_load_ms: Math.round(load),
      ...sweep,
    };
  } finally {
    await nats.stop();
  }
}

log(`SQLite, ${MEMBERS.toLocaleString("en-US")} members`);
const sq = await sqlite();
log(JSON.stringify(sq));
log(`JetStream, ${MEMBERS.toLocaleString("en-US")} members`);
const jsr = await jetStream();
log(JSON.stringify(jsr));
const result = {
  members: MEMBERS,
  members_on_two_gateways: MEMBERS / 10,
  sqlite: sq,
  jetstream: jsr,
  provenance: provenance.finish(),
};
writeResult("presence", result, [
  "## Presence on a 100,000-member room, `make bench-presence`",
  "",
  `${MEMBERS.toLocaleString("en-US")} users in one room, ${(MEMBERS / 10).toLocaleString("en-US")} of them also on a second gateway (counted once).`,
  `Measured at ${describeProvenance(result.provenance)}.`,
  "",
  "| store | count + first page of 100 (median of 5) | a page from the middle | fill | a process started later loads |",
  "| --- | ---: | ---: | ---: | ---: |",
  `| SQLite | ${sq.first_page_median_ms} ms | ${sq.middle_page_ms} ms | ${sq.fill_110k_set_online_ms} ms (110,000 setOnline, 1,000 in flight) | n/a (the table is the file) |`,
  `| JetStream | ${jsr.first_page_median_ms} ms | ${jsr.middle_page_ms} ms | ${jsr.publish_110k_entries_ms} ms (110,000 publishes) | ${jsr.late_process_load_ms} ms |`,
  "",
  `JetStream sweep of a crashed gateway epoch holding ${SWEPT.toLocaleString("en-US")} entries (lease over): first departures announced after`,
  `${jsr.sweep_first_departures_ms} ms, all removed in ${jsr.sweep_total_ms} ms (${jsr.sweep_entries_per_s.toLocaleString("en-US")} entries/s).`,
]);
