// make bench-push: the design note's experiment and the production push path
// in one run, every sender in this process and every receiver in a child
// process. Writes bench/results/push.json and the push section of
// bench/RESULTS.md.
import { fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeProvenance, type Provenance, startProvenance } from "../provenance/provenance.ts";
import { writeResult } from "../results-file.ts";
import {
  connectStreamBaseline,
  grpcStreamBaseline,
  grpcUnaryBaseline,
  PAYLOAD_BYTES,
  restBaseline,
} from "./baselines.ts";
import { type productionLatency, productionThroughput, startProductionRig } from "./production.ts";

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const N = Number(env.PUSH_BENCH_MESSAGES ?? 10_000);
const SUSTAINED_MS = Number(env.PUSH_BENCH_SUSTAINED_MS ?? 10_000);
const LATENCY_RATE = Number(env.PUSH_BENCH_LATENCY_RATE ?? 10_000);
const LATENCY_WARMUP_MS = Number(env.PUSH_BENCH_LATENCY_WARMUP_MS ?? 3000);
const LATENCY_MS = Number(env.PUSH_BENCH_LATENCY_MS ?? 10_000);
/** The latency phase runs this many times, each in fresh processes; the headline is the median p99. */
/** Deliveries per frame of the Connect-pipeline row: the production fleet's batch limit. */
const CONNECT_BATCH = 512;
const LATENCY_RUNS = Number(env.PUSH_BENCH_LATENCY_RUNS ?? 5);

type LatencyResult = Awaited<ReturnType<typeof productionLatency>>;

/** The latency run, in a fresh sender process with a fresh gateway (see latency-run.ts). */
function latencyInFreshProcesses(rate: number, warmupMs: number, measureMs: number): Promise<LatencyResult> {
  const child = fork(join(here, "latency-run.ts"), [String(rate), String(warmupMs), String(measureMs)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("message", (m) => resolve(m as LatencyResult));
    child.once("exit", (code) => reject(new Error(`latency run exited (${code}) without a result`)));
  });
}

/** The codec micro-benchmark (wire-reader-bench.ts) in a process of its own: ns per delivery by codec. */
function codecInFreshProcess(): Promise<Record<string, number>> {
  const child = fork(join(here, "wire-reader-bench.ts"), [], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("message", (m) => resolve(m as Record<string, number>));
    child.once("exit", (code) => reject(new Error(`codec bench exited (${code}) without a result`)));
  });
}

function log(msg: string): void {
  process.stderr.write(`bench-push: ${msg}\n`);
}

async function startBaselineServer() {
  const child = fork(join(here, "baseline-server.ts"), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ports = await new Promise<{ rest: number; grpc: number; connect: number }>((resolve, reject) => {
    child.once("message", (m) =>
      resolve((m as { ports: { rest: number; grpc: number; connect: number } }).ports),
    );
    child.once("exit", (code) => reject(new Error(`baseline server exited (${code})`)));
  });
  return { ports, stop: () => child.kill("SIGTERM") };
}

const provenance = startProvenance("bench/results/push.json");
const baseline = await startBaselineServer();
const rig = await startProductionRig();
try {
  // Warm every path (JIT, connections) with a short run whose result is discarded.
  log("warming up");
  await restBaseline(baseline.ports.rest, 300, true);
  await grpcUnaryBaseline(baseline.ports.grpc, 300);
  await grpcStreamBaseline(baseline.ports.grpc, 2000);
  await connectStreamBaseline(baseline.ports.connect, 2000);
  await connectStreamBaseline(baseline.ports.connect, 20_000, CONNECT_BATCH);
  await productionThroughput(rig, { n: 20_000 });

  log(`${N} sequential messages of ${PAYLOAD_BYTES} B per protocol`);
  const rest = await restBaseline(baseline.ports.rest, N, false);
  log(`REST new connection: ${rest} msg/s`);
  const restKeepalive = await restBaseline(baseline.ports.rest, N, true);
  log(`REST keep-alive: ${restKeepalive} msg/s`);
  const grpcUnary = await grpcUnaryBaseline(baseline.ports.grpc, N);
  log(`grpc-js unary: ${grpcUnary} msg/s`);
  const grpcStream = await grpcStreamBaseline(baseline.ports.grpc, N);
  log(`grpc-js stream: ${grpcStream} msg/s`);
  const connectStream = await connectStreamBaseline(baseline.ports.connect, N);
  log(`Connect stream unbatched: ${connectStream} msg/s`);
  const connectBatched = await connectStreamBaseline(baseline.ports.connect, N, CONNECT_BATCH);
  log(`Connect stream, ${CONNECT_BATCH} deliveries per frame: ${connectBatched} msg/s`);
  const production = await productionThroughput(rig, { n: N });
  log(`production push path: ${production.msgsPerS} msg/s`);

  // Latency in fresh processes, with the baselines' servers stopped: in this
  // process the tail mostly showed the collection of the baselines' and the
  // throughput runs' garbage (10-20 ms GC pauses).
  log(
    `latency at ${LATENCY_RATE} msg/s offered, ${LATENCY_RUNS} runs in fresh processes ` +
      `(${LATENCY_WARMUP_MS} ms warm-up, ${LATENCY_MS} ms measured each)`,
  );
  baseline.stop();
  const latencyRuns: LatencyResult[] = [];
  for (let i = 0; i < LATENCY_RUNS; i++) {
    const run = await latencyInFreshProcesses(LATENCY_RATE, LATENCY_WARMUP_MS, LATENCY_MS);
    latencyRuns.push(run);
    log(
      `run ${i + 1}: hop p50 ${run.p50} ms, p99 ${run.p99} ms, p99.9 ${run.p999} ms; event-loop delay p99/max: ` +
        `sender ${run.senderLoopDelayMs.p99}/${run.senderLoopDelayMs.max} ms, ` +
        `gateway ${run.gatewayLoopDelayMs?.p99}/${run.gatewayLoopDelayMs?.max} ms`,
    );
  }
  // The run whose p99 is the median stands for the phase; every run is kept.
  const latency = [...latencyRuns].sort((a, b) => a.p99 - b.p99)[Math.floor((latencyRuns.length - 1) / 2)];
  if (latency === undefined) throw new Error("PUSH_BENCH_LATENCY_RUNS must be at least 1");
  const p99s = latencyRuns.map((r) => r.p99);
  log(
    `hop p99 over ${LATENCY_RUNS} runs: median ${latency.p99} ms, min ${Math.min(...p99s)}, max ${Math.max(...p99s)}`,
  );

  log(`production push path sustained for ${SUSTAINED_MS} ms`);
  const sustained = await productionThroughput(rig, { durationMs: SUSTAINED_MS });
  log(`sustained: ${sustained.msgsPerS} msg/s (${sustained.sent} messages)`);

  log("codecs: ns per delivery, hand-written against protobuf-es (256 deliveries of 1.2 KB per batch)");
  const codec = await codecInFreshProcess();
  log(`codecs: ${JSON.stringify(codec)}`);

  const metricsText = await rig.registry.metrics();
  const drops = [...metricsText.matchAll(/^chatcluster_logic_push_drops_total\{reason="(\w+)"\} (\d+)/gm)]
    .filter((m) => m[2] !== "0")
    .map((m) => `${m[1]}=${m[2]}`);
  const result = {
    rest_msgs_per_s: rest,
    rest_keepalive_msgs_per_s: restKeepalive,
    grpc_unary_msgs_per_s: grpcUnary,
    grpc_stream_msgs_per_s: grpcStream,
    connect_stream_msgs_per_s: connectStream,
    connect_batched_msgs_per_s: connectBatched,
    production_msgs_per_s: production.msgsPerS,
    production_sustained_msgs_per_s: sustained.msgsPerS,
    production_sustained_messages: sustained.sent,
    hop_p50_ms: latency.p50,
    hop_p90_ms: latency.p90,
    hop_p99_ms: latency.p99,
    hop_p999_ms: latency.p999,
    hop_max_ms: latency.max,
    hop_samples: latency.count,
    /** Each latency run (fresh processes), in order; the hop_* figures above are the median run's. */
    hop_runs: latencyRuns.map((r) => ({
      p50_ms: r.p50,
      p99_ms: r.p99,
      p999_ms: r.p999,
      max_ms: r.max,
      sender_event_loop_delay_ms: r.senderLoopDelayMs,
      gateway_event_loop_delay_ms: r.gatewayLoopDelayMs,
    })),
    hop_runs_p99_ms: latencyRuns.map((r) => r.p99),
    hop_p99_median_ms: latency.p99,
    hop_p99_min_ms: Math.min(...p99s),
    hop_p99_max_ms: Math.max(...p99s),
    sender_event_loop_delay_ms: latency.senderLoopDelayMs,
    gateway_event_loop_delay_ms: latency.gatewayLoopDelayMs,
    latency_offered_msgs_per_s: LATENCY_RATE,
    /** bench/push/wire-reader-bench.ts: median ns per 1.2 KB delivery, ours against protobuf-es. */
    codec_ns_per_delivery: codec,
    production_drops: drops,
    ratios: {
      sustained_vs_rest: round1(sustained.msgsPerS / rest),
      sustained_vs_rest_keepalive: round1(sustained.msgsPerS / restKeepalive),
    },
    targets: {
      sustained_150k: sustained.msgsPerS >= 150_000,
      sustained_50x_rest: sustained.msgsPerS >= 50 * rest,
      sustained_25x_rest_keepalive: sustained.msgsPerS >= 25 * restKeepalive,
      hop_p99_1ms: latency.p99 <= 1,
    },
    config: {
      messages: N,
      payload_bytes: PAYLOAD_BYTES,
      sustained_ms: SUSTAINED_MS,
      latency_ms: LATENCY_MS,
      latency_runs: LATENCY_RUNS,
    },
    provenance: provenance.finish(),
  };
  writeResult("push", result, resultsSection(result));
} finally {
  await rig.close();
  baseline.stop();
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function resultsSection(r: {
  rest_msgs_per_s: number;
  rest_keepalive_msgs_per_s: number;
  grpc_unary_msgs_per_s: number;
  grpc_stream_msgs_per_s: number;
  connect_stream_msgs_per_s: number;
  connect_batched_msgs_per_s: number;
  production_msgs_per_s: number;
  production_sustained_msgs_per_s: number;
  hop_p50_ms: number;
  hop_p99_ms: number;
  hop_p999_ms: number;
  hop_runs: readonly { p50_ms: number; p99_ms: number; max_ms: number }[];
  hop_p99_min_ms: number;
  hop_p99_max_ms: number;
  sender_event_loop_delay_ms: { p99: number; max: number };
  gateway_event_loop_delay_ms: { p99: number; max: number } | undefined;
  targets: Record<string, boolean>;
  provenance: Provenance;
}): string[] {
  const x = (v: number) => `${round1(v / r.rest_msgs_per_s)}x`;
  const ok = (b: boolean | undefined) => (b ? "met" : "**missed**");
  const section = `## Push stream (logic -> gateway), \`make bench-push\`

${N.toLocaleString("en-US")} sequential messages of ${PAYLOAD_BYTES} B, sender and receiver in separate processes on loopback.
Measured at ${describeProvenance(r.provenance)}
(a load average near or above the core count means the CPU was shared: figures are then lower bounds).

| protocol | msg/s | vs REST |
| --- | ---: | ---: |
| REST HTTP/1.1, new connection per request | ${r.rest_msgs_per_s.toLocaleString("en-US")} | 1x |
| REST HTTP/1.1, keep-alive | ${r.rest_keepalive_msgs_per_s.toLocaleString("en-US")} | ${x(r.rest_keepalive_msgs_per_s)} |
| grpc-js unary | ${r.grpc_unary_msgs_per_s.toLocaleString("en-US")} | ${x(r.grpc_unary_msgs_per_s)} |
| grpc-js bidi stream | ${r.grpc_stream_msgs_per_s.toLocaleString("en-US")} | ${x(r.grpc_stream_msgs_per_s)} |
| Connect bidi stream, one message per frame | ${r.connect_stream_msgs_per_s.toLocaleString("en-US")} | ${x(r.connect_stream_msgs_per_s)} |
| Connect bidi stream, ${CONNECT_BATCH} messages per frame (the production batching through Connect's own encoder and decoder) | ${r.connect_batched_msgs_per_s.toLocaleString("en-US")} | ${x(r.connect_batched_msgs_per_s)} |
| production push path (GatewayFleet -> LogicLinkServer) | ${r.production_msgs_per_s.toLocaleString("en-US")} | ${x(r.production_msgs_per_s)} |
| production push path, ${SUSTAINED_MS / 1000} s sustained | ${r.production_sustained_msgs_per_s.toLocaleString("en-US")} | ${x(r.production_sustained_msgs_per_s)} |

Added latency of the hop (deliverToRoom in logic -> EdgeSink.deliver in the gateway) at ${LATENCY_RATE.toLocaleString("en-US")} msg/s
offered, measured from each message's scheduled send time (coordinated omission corrected, hdr-histogram), ${r.hop_runs.length} runs
each in fresh processes (run before the sustained run, ${LATENCY_WARMUP_MS / 1000} s of warm-up, ${LATENCY_MS / 1000} s measured):
p99 of each run ${r.hop_runs.map((x) => x.p99_ms).join(", ")} ms; **median p99 ${r.hop_p99_ms} ms** (spread ${r.hop_p99_min_ms} - ${r.hop_p99_max_ms} ms).
The median run: p50 ${r.hop_p50_ms} ms, p99 ${r.hop_p99_ms} ms, p99.9 ${r.hop_p999_ms} ms;
event-loop delay in its window (how late each process got the CPU): sender p99 ${r.sender_event_loop_delay_ms.p99} ms
(max ${r.sender_event_loop_delay_ms.max}), gateway p99 ${r.gateway_event_loop_delay_ms?.p99 ?? "n/a"} ms (max ${r.gateway_event_loop_delay_ms?.max ?? "n/a"}).
One stall of either process delays every message offered during it (10 per ms), so a few stalls as long as the
loop-delay maxima are enough to set the hop's p99 on a shared CPU.

| target | result |
| --- | --- |
| sustained >= 150,000 msg/s | ${ok(r.targets.sustained_150k)} |
| sustained >= 50x REST (new connection) | ${ok(r.targets.sustained_50x_rest)} |
| sustained >= 25x REST keep-alive | ${ok(r.targets.sustained_25x_rest_keepalive)} |
| hop p99 <= 1 ms at 10k msg/s (median of the runs) | ${ok(r.targets.hop_p99_1ms)} |`;
  return section.split("\n");
}
