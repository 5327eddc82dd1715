// make bench-e2e: chat sends end to end through the `make dev` topology (2
// gateways, 2 logic processes) with each store, against a ceiling baseline (a
// minimal single-process in-memory room broadcaster) driven by the same load
// generators in the same run.
//
// 2,000 connections in rooms of 10, members of a room spread over both
// gateways; every connection sends to its room at a share of the offered rate,
// every send acknowledged and delivered to the 10 members. Offered rates step
// up until p99 send -> delivery passes 100 ms twice or the system stops keeping
// up. Writes bench/results/e2e.json and its section of bench/RESULTS.md.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startLoopbackStack } from "../../dev/loopback-stack.ts";
import { startNats } from "../../testenv/harness/index.ts";
import { perfAvailable, recordStages, type StageReport } from "../load/cpu-stages.ts";
import { type FleetStats, LoadFleet } from "../load/load-fleet.ts";
import type { ConnectionSpec } from "../load/load-protocol.ts";
import { CpuMeter, pidsMatching } from "../load/process-cpu.ts";
import { describeProvenance, startProvenance } from "../provenance/provenance.ts";
import { writeResult } from "../results-file.ts";

const env = process.env;
const CONNECTIONS = Number(env.BENCH_E2E_CONNECTIONS ?? 2000);
const ROOM_SIZE = 10;
const GENERATORS = Number(env.BENCH_E2E_GENERATORS ?? 4);
const STEP_MS = Number(env.BENCH_E2E_STEP_MS ?? 8000);
const WARM_MS = Number(env.BENCH_E2E_WARM_MS ?? 2000);
const RATES = (env.BENCH_E2E_RATES ?? "250,500,1000,1500,2000,2500,3000,3500,4000,5000,6000,8000,10000")
  .split(",")
  .map(Number);
/**
 * A Send hook costs more CPU per send than the rest of the send on this
 * machine, so its run steps up from lower and in smaller steps.
 */
const HOOK_RATES = (env.BENCH_E2E_HOOK_RATES ?? "250,500,750,1000,1250,1500,2000").split(",").map(Number);
const SYSTEMS = (env.BENCH_E2E_SYSTEMS ?? "ceiling,sqlite,sqlite-send-hook,jetstream").split(",");

/**
 * The offered rate at which each system's server processes are sampled with
 * perf for the CPU-per-stage table (0: none). perf counts on-CPU time only, so
 * the table holds on a machine busy with other work; without perf it is skipped.
 */
const PROFILE_RATE = Number(env.BENCH_E2E_PROFILE_RATE ?? 1000);
const profiling = PROFILE_RATE > 0 && perfAvailable();
const provenance = startProvenance("bench/results/e2e.json");
const log = (m: string) => process.stderr.write(`bench-e2e: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ms = (us: number) => Math.round(us) / 1000;

interface Step {
  offered_per_s: number;
  sent_per_s: number;
  acked_per_s: number;
  delivered_per_s: number;
  e2e_p50_ms: number;
  e2e_p99_ms: number;
  e2e_p999_ms: number;
  e2e_max_ms: number;
  ack_p50_ms: number;
  ack_p99_ms: number;
  errors: Record<string, number>;
  gaps: number;
  duplicates: number;
  disconnects: number;
  /** Cores each process used on average during the step. */
  cpu: Record<string, number>;
  /** CPU milliseconds the server processes (not the load generators) used per acknowledged send. */
  server_cpu_ms_per_send: number;
  /** Everything sent was acked and delivered to the whole room (within 3%), no errors. */
  kept_up: boolean;
}

interface System {
  gateways: { host: string; port: number }[];
  jwtSecret: string;
  pids: Map<string, number>;
  stop(): Promise<void>;
}

function connections(gateways: number): ConnectionSpec[] {
  return Array.from({ length: CONNECTIONS }, (_, i) => ({
    user: `e2e${i}`,
    rooms: [`e2e.room-${Math.floor(i / ROOM_SIZE)}`],
    // Members of a room alternate between gateways, so every send crosses both.
    gateway: i % gateways,
    probe: true,
    sender: true,
  }));
}

async function startCeiling(): Promise<System> {
  const child = spawn(
    process.execPath,
    [
      ...(profiling ? ["--perf-basic-prof"] : []),
      fileURLToPath(new URL("./ceiling-server.ts", import.meta.url)),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port));
    child.once("exit", (code) => reject(new Error(`ceiling server exited (${code})`)));
  });
  return {
    gateways: [{ host: "127.0.0.1", port }],
    jwtSecret: "unused",
    pids: new Map([["ceiling", child.pid as number]]),
    async stop() {
      child.kill("SIGTERM");
    },
  };
}

/** The example hooks service in its own process; resolves once it listens. */
async function startHooksService(): Promise<{ url: string; pid: number; stop(): void }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL("./hooks-service.ts", import.meta.url))], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve((JSON.parse(d.toString()) as { url: string }).url));
    child.once("exit", (code) => reject(new Error(`hooks service exited (${code})`)));
  });
  return { url, pid: child.pid as number, stop: () => child.kill("SIGTERM") };
}

/**
 * `hooks`: the example hooks service (dev/hooks-example.ts, Connect JSON over
 * HTTP/1.1, in a process of its own) with the Join and Send hooks on for every
 * room, so every send makes a round trip to it before it is stored.
 */
async function startChatCluster(store: "sqlite" | "nats", hooks = false): Promise<System> {
  const dataDir = mkdtempSync(join(tmpdir(), `cc-bench-e2e-${store}-`));
  const nats = store === "nats" ? await startNats({ name: "bench-e2e" }) : undefined;
  const hooksService = hooks ? await startHooksService() : undefined;
  const output: string[] = [];
  const stack = await startLoopbackStack(
    // JavaScript frames get names in perf's samples.
    {
      dataDir,
      store,
      natsUrl: nats?.url,
      nodeArgs: profiling ? ["--perf-basic-prof"] : [],
      ...(hooksService
        ? { logicArgs: [`--hooks-url=${hooksService.url}`, "--hook-join-rooms=>", "--hook-send-rooms=>"] }
        : {}),
    },
    (l) => output.push(l),
  );
  const pids = new Map<string, number>();
  for (const [i, g] of stack.gateways.entries()) pids.set(`gateway-${i}`, g.pid() as number);
  for (const [i, l] of stack.logic.entries()) pids.set(`logic-${i}`, l.pid() as number);
  if (nats) for (const pid of pidsMatching(nats.storeDir)) pids.set("nats-server", pid);
  if (hooksService) pids.set("hooks-service", hooksService.pid);
  return {
    gateways: stack.gatewayUrls.map((u) => {
      const url = new URL(u);
      return { host: url.hostname, port: Number(url.port) };
    }),
    jwtSecret: readFileSync(join(dataDir, "dev-jwt-secret"), "utf8").trim(),
    pids,
    async stop() {
      await stack.stop();
      await nats?.stop();
      hooksService?.stop();
      rmSync(dataDir, { recursive: true, force: true });
      if (output.some((l) => /"level":(50|60)/.test(l)))
        log(`errors logged:\n${output.slice(-20).join("\n")}`);
    },
  };
}

function toStep(offered: number, s: FleetStats, seconds: number, cpu: Record<string, number>): Step {
  const expectedDeliveries = s.acked * ROOM_SIZE;
  const serverCores = Object.entries(cpu)
    .filter(([name]) => !name.startsWith("load-"))
    .reduce((sum, [, cores]) => sum + cores, 0);
  const errorCount = Object.values(s.errors).reduce((a, b) => a + b, 0);
  return {
    offered_per_s: offered,
    sent_per_s: Math.round(s.sent / seconds),
    acked_per_s: Math.round(s.acked / seconds),
    delivered_per_s: Math.round(s.deliveries / seconds),
    e2e_p50_ms: ms(s.e2e.getValueAtPercentile(50)),
    e2e_p99_ms: ms(s.e2e.getValueAtPercentile(99)),
    e2e_p999_ms: ms(s.e2e.getValueAtPercentile(99.9)),
    e2e_max_ms: ms(s.e2e.maxValue),
    ack_p50_ms: ms(s.ack.getValueAtPercentile(50)),
    ack_p99_ms: ms(s.ack.getValueAtPercentile(99)),
    errors: s.errors,
    gaps: s.gaps,
    duplicates: s.duplicates,
    disconnects: s.disconnects,
    cpu,
    server_cpu_ms_per_send: s.acked > 0 ? Math.round(((serverCores * seconds) / s.acked) * 1e5) / 100 : 0,
    kept_up:
      errorCount === 0 &&
      s.sent >= 0.97 * offered * seconds &&
      s.acked >= 0.97 * s.sent &&
      s.deliveries >= 0.97 * expectedDeliveries,
  };
}

async function measure(name: string, sys: System): Promise<{ steps: Step[]; stages?: StageReport }> {
  const fleet = await LoadFleet.start(
    {
      gateways: sys.gateways,
      jwtSecret: sys.jwtSecret,
      connections: connections(sys.gateways.length),
      processes: GENERATORS,
    },
    180_000,
  );
  const pids = new Map(sys.pids);
  for (const [i, pid] of fleet.pids.entries()) pids.set(`load-${i}`, pid);
  const cpu = new CpuMeter(pids);
  const steps: Step[] = [];
  let stages: StageReport | undefined;
  try {
    log(`${name}: ${CONNECTIONS} connections ready; warming up`);
    fleet.setRate(500);
    await sleep(3000);
    let over = 0;
    for (const rate of name === "sqlite-send-hook" ? HOOK_RATES : RATES) {
      fleet.setRate(rate);
      await sleep(WARM_MS);
      await fleet.stats(true);
      cpu.reset();
      // perf's start and its report stretch a profiled step past STEP_MS: rates use the time it took.
      const stepStart = performance.now();
      if (profiling && rate === PROFILE_RATE) {
        // Sampled for all but the step's last second; sends counted over the same window.
        const seconds = Math.max(1, Math.floor(STEP_MS / 1000) - 1);
        const acked0 = (await fleet.stats(false)).acked;
        stages = await recordStages(sys.pids, seconds, async () => (await fleet.stats(false)).acked - acked0);
        log(`${name}: ${stages.total_us_per_send} us of server CPU per send (perf, ${seconds} s)`);
        await sleep(Math.max(0, STEP_MS - seconds * 1000 - 300));
      } else {
        await sleep(STEP_MS);
      }
      const used = cpu.read();
      const s = await fleet.stats(true);
      const step = toStep(rate, s, (performance.now() - stepStart) / 1000, used);
      steps.push(step);
      log(
        `${name} @ ${rate}/s: acked ${step.acked_per_s}/s, delivered ${step.delivered_per_s}/s, ` +
          `e2e p50 ${step.e2e_p50_ms} p99 ${step.e2e_p99_ms} ms, ack p99 ${step.ack_p99_ms} ms, ` +
          `kept up ${step.kept_up}${Object.keys(step.errors).length > 0 ? `, errors ${JSON.stringify(step.errors)}` : ""}`,
      );
      if (!step.kept_up || step.e2e_p99_ms > 100) over++;
      if (over >= 2) break;
    }
    fleet.setRate(0);
  } finally {
    await fleet.stop();
  }
  return { steps, stages };
}

/** The highest offered rate that was kept up with p99 under `limitMs` (0 when none was). */
function best(steps: readonly Step[], limitMs: number): number {
  let r = 0;
  for (const s of steps) if (s.kept_up && s.e2e_p99_ms < limitMs) r = Math.max(r, s.offered_per_s);
  return r;
}

const runs: Record<string, Step[]> = {};
const stageReports: Record<string, StageReport> = {};
for (const name of SYSTEMS) {
  log(`starting ${name}`);
  const sys =
    name === "ceiling"
      ? await startCeiling()
      : await startChatCluster(name === "jetstream" ? "nats" : "sqlite", name === "sqlite-send-hook");
  try {
    const m = await measure(name, sys);
    runs[name] = m.steps;
    if (m.stages !== undefined) stageReports[name] = m.stages;
  } finally {
    await sys.stop();
  }
  await sleep(2000);
}

const steps = (n: string) => runs[n] ?? [];
const ceiling100 = best(steps("ceiling"), 100);
const ratio = (x: number) => (ceiling100 > 0 ? Math.round((x / ceiling100) * 100) / 100 : 0);
const at1000 = steps("sqlite").find((s) => s.offered_per_s === 1000);
/**
 * The Send hook's cost is read at the highest offered rate both SQLite runs
 * (with and without the hook) kept up with at p99 under 100 ms: past that a
 * run is saturated and the difference is queueing, not the hook's round
 * trip. The lowest common step when there is none.
 */
const comfortable = (s: Step) => s.kept_up && s.e2e_p99_ms < 100;
const hookComfortableRate = steps("sqlite-send-hook")
  .filter(
    (h) =>
      comfortable(h) && steps("sqlite").some((s) => s.offered_per_s === h.offered_per_s && comfortable(s)),
  )
  .reduce((r, h) => Math.max(r, h.offered_per_s), 0);
const hookCompareRate = hookComfortableRate || (HOOK_RATES.find((r) => RATES.includes(r)) ?? 0);
const noHook = steps("sqlite").find((s) => s.offered_per_s === hookCompareRate);
const withHook = steps("sqlite-send-hook").find((s) => s.offered_per_s === hookCompareRate);
const added = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? null : Math.round((a - b) * 1000) / 1000;
/** What a Send hook round trip adds, at the same offered rate, to the same topology (SQLite). */
const sendHook = {
  offered_per_s: hookCompareRate,
  kept_up: { without: noHook?.kept_up ?? null, with: withHook?.kept_up ?? null },
  e2e_p50_ms: { without: noHook?.e2e_p50_ms ?? null, with: withHook?.e2e_p50_ms ?? null },
  e2e_p99_ms: { without: noHook?.e2e_p99_ms ?? null, with: withHook?.e2e_p99_ms ?? null },
  ack_p50_ms: { without: noHook?.ack_p50_ms ?? null, with: withHook?.ack_p50_ms ?? null },
  ack_p99_ms: { without: noHook?.ack_p99_ms ?? null, with: withHook?.ack_p99_ms ?? null },
  added_e2e_p50_ms: added(withHook?.e2e_p50_ms, noHook?.e2e_p50_ms),
  added_e2e_p99_ms: added(withHook?.e2e_p99_ms, noHook?.e2e_p99_ms),
  server_cpu_ms_per_send: {
    without: noHook?.server_cpu_ms_per_send ?? null,
    with: withHook?.server_cpu_ms_per_send ?? null,
  },
};
const prov = provenance.finish();
const result = {
  commit: prov.commit,
  connections: CONNECTIONS,
  room_size: ROOM_SIZE,
  generators: GENERATORS,
  step_ms: STEP_MS,
  sqlite_sends_per_s_p99_100ms: best(steps("sqlite"), 100),
  jetstream_sends_per_s_p99_100ms: best(steps("jetstream"), 100),
  ceiling_sends_per_s_p99_100ms: ceiling100,
  sqlite_sends_per_s_p99_25ms: best(steps("sqlite"), 25),
  jetstream_sends_per_s_p99_25ms: best(steps("jetstream"), 25),
  ceiling_sends_per_s_p99_25ms: best(steps("ceiling"), 25),
  sqlite_p99_ms_at_1000_per_s: at1000?.e2e_p99_ms ?? null,
  sqlite_send_hook_sends_per_s_p99_100ms: best(steps("sqlite-send-hook"), 100),
  sqlite_send_hook_sends_per_s_p99_25ms: best(steps("sqlite-send-hook"), 25),
  send_hook: sendHook,
  sqlite_vs_ceiling: ratio(best(steps("sqlite"), 100)),
  jetstream_vs_ceiling: ratio(best(steps("jetstream"), 100)),
  targets: {
    sqlite_3000_p99_100ms: best(steps("sqlite"), 100) >= 3000,
    sqlite_p99_15ms_at_1000: (at1000?.e2e_p99_ms ?? Number.POSITIVE_INFINITY) <= 15,
    jetstream_2500_p99_100ms: best(steps("jetstream"), 100) >= 2500,
    sqlite_40pct_of_ceiling: ratio(best(steps("sqlite"), 100)) >= 0.4,
    jetstream_40pct_of_ceiling: ratio(best(steps("jetstream"), 100)) >= 0.4,
  },
  /** perf's on-CPU samples at PROFILE_RATE, by process and stage (absent without perf). */
  cpu_stages: stageReports,
  steps: runs,
  provenance: prov,
};

/** Microseconds of server CPU per send by stage, one column per system. */
function stageTable(reports: Record<string, StageReport>): string[] {
  const systems = Object.keys(reports);
  if (systems.length === 0) return [];
  const stages = new Map<string, number>();
  for (const r of Object.values(reports))
    for (const [stage, us] of Object.entries(r.stages_us_per_send))
      stages.set(stage, Math.max(stages.get(stage) ?? 0, us));
  const cell = (n: string, stage: string) => {
    const us = reports[n]?.stages_us_per_send[stage];
    return us === undefined ? "" : String(us);
  };
  const perProcess = (n: string, p: string) => {
    const r = reports[n];
    const ps = r?.processes[p];
    return ps === undefined || r === undefined
      ? ""
      : String(Math.round((ps.cpu_s * 1e7) / Math.max(1, r.sends)) / 10);
  };
  return [
    "",
    `### Where the CPU of a send goes (at ${PROFILE_RATE.toLocaleString("en-US")} sends/s offered)`,
    "",
    "On-CPU samples of every server process (`perf record -e cpu-clock`, 997 Hz, JavaScript frames named",
    "with `--perf-basic-prof`) over one step, each sample put in the stage of the innermost frame a rule of",
    "bench/load/cpu-stages.ts names, divided by the sends acknowledged in the same window. Time a process",
    "spent waiting for a core does not count, so the table holds on a machine busy with other work; per-send",
    "costs fall as the rate rises (more events per push-stream frame, more appends per SQLite transaction).",
    "",
    `| stage (µs of CPU per send) | ${systems.join(" | ")} |`,
    `| --- |${systems.map(() => " ---: |").join("")}`,
    `| **all server processes** | ${systems.map((n) => `**${reports[n]?.total_us_per_send}**`).join(" | ")} |`,
    ...[...stages]
      .sort((a, b) => b[1] - a[1])
      .map(([stage]) => `| ${stage} | ${systems.map((n) => cell(n, stage)).join(" | ")} |`),
    "",
    `| process (µs of CPU per send) | ${systems.join(" | ")} |`,
    `| --- |${systems.map(() => " ---: |").join("")}`,
    ...[...new Set(systems.flatMap((n) => Object.keys(reports[n]?.processes ?? {})))]
      .sort()
      .map((p) => `| ${p} | ${systems.map((n) => perProcess(n, p)).join(" | ")} |`),
  ];
}

const ok = (b: boolean) => (b ? "met" : "**missed**");
const row = (n: string, label: string) =>
  `| ${label} | ${best(steps(n), 100).toLocaleString("en-US")} | ${best(steps(n), 25).toLocaleString("en-US")} | ${n === "ceiling" ? "1" : ratio(best(steps(n), 100))} |`;
writeResult("e2e", result, [
  "## Chat sends end to end, `make bench-e2e`",
  "",
  `${CONNECTIONS.toLocaleString("en-US")} connections in rooms of ${ROOM_SIZE} (members alternating between the gateways), every send`,
  `acknowledged and delivered to its ${ROOM_SIZE} members; ${GENERATORS} load-generator processes (raw sockets) on the same machine;`,
  `offered rates stepped up, ${STEP_MS / 1000} s measured per step after ${WARM_MS / 1000} s of warm-up; latency from each send's scheduled`,
  "time to its delivery (coordinated omission corrected). ChatCluster runs the `make dev` topology (2 gateways, 2 logic processes).",
  `Measured at ${describeProvenance(result.provenance)}.`,
  "",
  "| system | sends/s at p99 < 100 ms | sends/s at p99 < 25 ms | vs ceiling |",
  "| --- | ---: | ---: | ---: |",
  row("ceiling", "ceiling: one process, in-memory rooms, no auth or store"),
  row("sqlite", "ChatCluster, SQLite"),
  row("sqlite-send-hook", "ChatCluster, SQLite, every send through a Send hook"),
  row("jetstream", "ChatCluster, NATS JetStream"),
  "",
  "| target | result |",
  "| --- | --- |",
  `| SQLite >= 3,000 sends/s at p99 < 100 ms | ${ok(result.targets.sqlite_3000_p99_100ms)} |`,
  `| SQLite p99 <= 15 ms at 1,000 sends/s (${result.sqlite_p99_ms_at_1000_per_s} ms) | ${ok(result.targets.sqlite_p99_15ms_at_1000)} |`,
  `| JetStream >= 2,500 sends/s at p99 < 100 ms | ${ok(result.targets.jetstream_2500_p99_100ms)} |`,
  `| SQLite >= 40% of the ceiling | ${ok(result.targets.sqlite_40pct_of_ceiling)} |`,
  `| JetStream >= 40% of the ceiling | ${ok(result.targets.jetstream_40pct_of_ceiling)} |`,
  "",
  `A Send hook round trip at ${hookCompareRate.toLocaleString("en-US")} sends/s offered, ${
    hookComfortableRate > 0
      ? "the highest rate both kept up with at p99 < 100 ms"
      : "the lowest rate both were offered (the hook's run kept up with none of them at p99 < 100 ms)"
  } (the example hooks service of`,
  "`make dev --hooks-example` in a process of its own, Connect JSON over HTTP/1.1 on loopback, called by logic before each append),",
  "against the same topology without hooks:",
  "",
  "| at the same offered rate | without hooks | with the Send hook | added |",
  "| --- | ---: | ---: | ---: |",
  `| send -> delivery p50 | ${sendHook.e2e_p50_ms.without} ms | ${sendHook.e2e_p50_ms.with} ms | ${sendHook.added_e2e_p50_ms} ms |`,
  `| send -> delivery p99 | ${sendHook.e2e_p99_ms.without} ms | ${sendHook.e2e_p99_ms.with} ms | ${sendHook.added_e2e_p99_ms} ms |`,
  `| send -> ack p99 | ${sendHook.ack_p99_ms.without} ms | ${sendHook.ack_p99_ms.with} ms | |`,
  `| server CPU per send (gateways, logic and the hooks service) | ${sendHook.server_cpu_ms_per_send.without} ms | ${sendHook.server_cpu_ms_per_send.with} ms | |`,
  "",
  "Each step's figures (ack p99, CPU per process in cores, server CPU per send, errors) are in `bench/results/e2e.json`.",
  ...stageTable(stageReports),
]);
process.exit(0);
