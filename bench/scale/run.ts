// make bench-scale: the design note's case on one 2-core machine. 100,000
// authenticated WebSocket connections over 6 gateways, 2 logic processes on
// NATS JetStream, steady client sends into small rooms and server-API
// publishes into a 10,000-member room; then logic rolled under load, a gateway
// stalled, a gateway drained. Writes bench/results/scale.json and its section
// of bench/RESULTS.md. Scenario: scale-scenario.ts.
import { cpus } from "node:os";
import { describeProvenance, startProvenance } from "../provenance/provenance.ts";
import { writeResult } from "../results-file.ts";
import { runScale } from "./scale-scenario.ts";

const env = process.env;
const provenance = startProvenance("bench/results/scale.json");
const opts = {
  connections: Number(env.BENCH_SCALE_CONNECTIONS ?? 100_000),
  bigRoom: Number(env.BENCH_SCALE_BIG_ROOM ?? 10_000),
  gateways: Number(env.BENCH_SCALE_GATEWAYS ?? 8),
  generators: Number(env.BENCH_SCALE_GENERATORS ?? 8),
  sendsPerSecond: Number(env.BENCH_SCALE_SENDS ?? 1000),
  publishesPerSecond: Number(env.BENCH_SCALE_PUBLISHES ?? 10),
  steadyMs: Number(env.BENCH_SCALE_STEADY_MS ?? 60_000),
  stallMs: 5000,
  drainWindowS: Number(env.BENCH_SCALE_DRAIN_WINDOW_S ?? 20),
  drainBackstopS: Number(env.BENCH_SCALE_DRAIN_BACKSTOP_S ?? 120),
  log: (l: string) => process.stderr.write(`bench-scale: ${l}\n`),
};
const r = await runScale(opts);
const prov = provenance.finish();
const targets = {
  drain_all_resumed: r.drain_unfinished === null,
  connections_100k: r.connections >= 100_000,
  roll_zero_disconnects: r.roll_disconnects === 0,
  roll_zero_lost: r.roll_lost === 0,
  steady_p99_25ms: r.steady_e2e_p99_ms <= 25,
  roll_p99_50ms: r.roll_e2e_p99_ms <= 50,
  stall_delta_2ms: r.stall_others_p99_delta_ms <= 2,
  drain_peak_1_5x_even: r.drain_peak_vs_even <= 1.5,
  gateway_rss_8kb: r.gateway_rss_bytes_per_conn <= 8192,
};
const result = {
  ...r,
  commit: prov.commit,
  cores: cpus().length,
  options: { ...opts, log: undefined },
  targets,
  provenance: prov,
};
const c = r.steady_cpu.cores;
const m = r.steady_cpu.machine;
/**
 * What bounded the steady phase, read off the figures of this run: a machine
 * with no idle CPU left is the bound whatever each process does; otherwise
 * the busiest event loop is.
 */
const bottleneck =
  m.idle < 0.05
    ? `**Bottleneck: the machine's CPU.** ${Math.round((1 - m.idle) * 100)}% of both cores were busy (${Math.round(
        m.system * 100,
      )}% in the kernel, mostly loopback TCP: every delivery is a write by a gateway and a read by a load generator on the same cores); ` +
      `the load generators alone took ${c.load_generators} cores, the ChatCluster processes ${Math.round((c.gateways + c.logic + c.nats) * 100) / 100}. ` +
      "Sends and publishes queue behind the CPU, so latency grows over the phase instead of settling; the CPU seconds per 1,000 deliveries above are the system's own cost."
    : "";
const ok = (b: boolean) => (b ? "met" : "**missed**");
const f = (n: number) => n.toLocaleString("en-US");
writeResult("scale", result, [
  "## 100,000 connections on one machine, `make bench-scale`",
  "",
  `${f(r.connections)} authenticated WebSocket connections (auth + join through the real protocol) over ${r.gateways} gateways, 2 logic`,
  `processes, NATS JetStream; ${opts.generators} load-generator processes on source addresses 127.0.0.2 and up. Steady load: ${f(opts.sendsPerSecond)} client`,
  `sends/s into rooms of 10 and ${opts.publishesPerSecond} server-API publishes/s into a ${f(opts.bigRoom)}-member room. Latency send -> delivery on`,
  "every 89th connection (probes; hdr-histogram, from each send's scheduled time); the others count frames.",
  `Measured at ${describeProvenance(prov)}.`,
  "",
  "| what | result | target |",
  "| --- | ---: | --- |",
  `| connections | ${f(r.connections)} | >= 100,000: ${ok(targets.connections_100k)} |`,
  `| connections opened per second (auth + join) | ${f(r.connect_per_s)} | |`,
  `| steady deliveries/s | ${f(r.steady_deliveries_per_s)} | |`,
  `| steady e2e p50 / p99 | ${r.steady_e2e_p50_ms} / ${r.steady_e2e_p99_ms} ms | p99 <= 25 ms: ${ok(targets.steady_p99_25ms)} |`,
  `| logic roll: client disconnects | ${r.roll_disconnects} | 0: ${ok(targets.roll_zero_disconnects)} |`,
  `| logic roll: acked messages lost / duplicated | ${r.roll_lost} / ${r.roll_duplicates} | 0: ${ok(targets.roll_zero_lost)} |`,
  `| logic roll: e2e p99 during the roll (${(r.roll_ms / 1000).toFixed(1)} s) | ${r.roll_e2e_p99_ms} ms | <= 50 ms: ${ok(targets.roll_p99_50ms)} |`,
  `| stalled gateway (SIGSTOP 5 s): others' p99 before -> during | ${r.stall_others_p99_before_ms} -> ${r.stall_others_p99_during_ms} ms (delta ${r.stall_others_p99_delta_ms}) | delta <= 2 ms: ${ok(targets.stall_delta_2ms)} |`,
  `| stalled gateway: its queue in logic, max / bound | ${f(r.stall_queue_bytes_max)} / ${f(r.stall_queue_bound_bytes)} B | under the bound |`,
  `| drained gateway: clients moved, peak reconnects/s vs even spread | ${f(r.drain_moved)}, ${f(r.drain_peak_per_s)}/s vs ${f(r.drain_even_per_s)}/s = ${r.drain_peak_vs_even}x | <= 1.5x: ${ok(targets.drain_peak_1_5x_even)} |`,
  `| drained gateway: messages lost; every moved client resumed after | ${r.drain_lost}; ${
    r.drain_all_resumed_ms === null
      ? `**not all** within ${opts.drainWindowS + opts.drainBackstopS} s (${f(r.drain_unfinished?.resumed ?? 0)} of ${f(r.drain_unfinished?.moved ?? 0)} moved resumed, ${f(r.drain_unfinished?.expected ?? 0)} to move)`
      : `${(r.drain_all_resumed_ms / 1000).toFixed(1)} s`
  } | 0 lost |`,
  `| gateway RSS per connection (all gateways / connections) | ${f(r.gateway_rss_bytes_per_conn)} B | <= 8 KB: ${ok(targets.gateway_rss_8kb)} |`,
  `| logic RSS before the connections -> after the steady phase | ${r.logic_rss_before_connections_bytes.map((b) => `${Math.round(b / 2 ** 20)}`).join(", ")} -> ${r.logic_rss_bytes.map((b) => `${Math.round(b / 2 ** 20)} MiB`).join(", ")} (${f(r.logic_rss_bytes_per_conn)} B per connection in each process) | |`,
  `| CPU seconds per 1,000 deliveries: gateways / logic | ${r.gateway_cpu_s_per_1000_deliveries} / ${r.logic_cpu_s_per_1000_deliveries} | |`,
  "",
  "Where the CPU went in the steady phase (cores; the machine has " + `${cpus().length}):`,
  "",
  "| gateways | logic | nats-server | load generators | bench runner (publisher, probes' bookkeeping) | machine: user / system / softirq / idle |",
  "| ---: | ---: | ---: | ---: | ---: | --- |",
  `| ${c.gateways} | ${c.logic} | ${c.nats} | ${c.load_generators} | ${c.bench_runner} | ${m.user} / ${m.system} / ${m.softirq} / ${m.idle} |`,
  "",
  `Event-loop delay p99 over the steady phase (ms): ${Object.entries(r.steady_event_loop_p99_ms)
    .map(([n, v]) => `${n} ${v}`)
    .join(", ")}.`,
  ...(bottleneck === "" ? [] : ["", bottleneck]),
]);
process.exit(0);
