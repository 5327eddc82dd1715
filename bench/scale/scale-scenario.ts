// The phases of bench-scale, shared by the benchmark (100,000 connections) and
// its reduced correctness test under `make test`: connect, steady load, a
// rolling restart of logic, a stalled gateway, a drained gateway.
import { setTimeout as sleep } from "node:timers/promises";
import type * as hdr from "hdr-histogram-js";
import { type FleetStats, LoadFleet } from "../load/load-fleet.ts";
import type { ConnectionSpec } from "../load/load-protocol.ts";
import { CpuMeter, MachineCpu, rssBytes } from "../load/process-cpu.ts";
import { metricSum, type ScaleSystem, startScaleSystem } from "./scale-system.ts";

export interface ScaleOptions {
  readonly connections: number;
  /** Members of the one big room (the rest are in rooms of 10). */
  readonly bigRoom: number;
  readonly gateways: number;
  readonly generators: number;
  /** Client sends per second into the small rooms. */
  readonly sendsPerSecond: number;
  /** Server-API publishes per second into the big room. */
  readonly publishesPerSecond: number;
  readonly steadyMs: number;
  readonly stallMs: number;
  readonly drainWindowS: number;
  /** How long after the drain window the phase waits for every moved client to resume. */
  readonly drainBackstopS: number;
  readonly log: (line: string) => void;
}

const ms = (us: number) => Math.round(us) / 1000;
const pct = (h: hdr.Histogram, p: number) => ms(h.getValueAtPercentile(p));

/** Probes: every 89th connection (89 is prime, so they spread over every gateway and room). */
function connections(o: ScaleOptions): ConnectionSpec[] {
  const small = o.connections - o.bigRoom;
  return Array.from({ length: o.connections }, (_, i) => {
    const inBig = i >= small;
    return {
      user: `s${i}`,
      rooms: [inBig ? "scale.big" : `scale.room-${Math.floor(i / 10)}`],
      gateway: i % o.gateways,
      probe: i % 89 === 0 || (inBig && i % 97 === 0),
      sender: !inBig,
    };
  });
}

/** Publishes into the big room through the server API at a fixed rate; each body is its scheduled time. */
class Publisher {
  #timer: NodeJS.Timeout | null = null;
  #k = 0;
  sent = 0;
  acked = 0;
  failures = 0;
  readonly #sys: ScaleSystem;
  readonly #rate: number;

  constructor(sys: ScaleSystem, rate: number) {
    this.#sys = sys;
    this.#rate = rate;
  }

  start(): void {
    const t0 = performance.timeOrigin + performance.now();
    const base = this.#k;
    this.#timer = setInterval(() => {
      const now = performance.timeOrigin + performance.now();
      // Publish k once its scheduled time has come (see chat-load-client.ts's sendDue).
      const due = base + Math.floor(((now - t0) * this.#rate) / 1000) + 1;
      while (this.#k < due) {
        const k = this.#k++;
        void this.#publish(k, t0 + ((k - base) * 1000) / this.#rate);
      }
    }, 5);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Tries each logic process in turn (one may be restarting), same id, so a retry is never stored twice. */
  async #publish(k: number, when: number): Promise<void> {
    this.sent++;
    const urls = this.#sys.stack.apiUrls;
    for (let attempt = 0; attempt < 20; attempt++) {
      const url = urls[(k + attempt) % urls.length] as string;
      try {
        const r = await fetch(`${url}/chatcluster.v1.ChatService/Publish`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${this.#sys.stack.apiKey}` },
          body: JSON.stringify({
            room: "scale.big",
            id: `pub-${k}`,
            from: "bench",
            body: Number(when.toFixed(3)),
          }),
          signal: AbortSignal.timeout(5000),
        });
        if (r.ok) {
          this.acked++;
          return;
        }
      } catch {
        // Refused or timed out: the next process.
      }
      await sleep(100 * (attempt + 1));
    }
    this.failures++;
  }
}

export interface ScaleResult {
  connections: number;
  gateways: number;
  connect_per_s: number;
  steady_e2e_p50_ms: number;
  steady_e2e_p99_ms: number;
  steady_deliveries_per_s: number;
  steady_sends_per_s: number;
  steady_publishes_per_s: number;
  roll_disconnects: number;
  roll_lost: number;
  roll_duplicates: number;
  roll_gaps_resumed: number;
  roll_e2e_p99_ms: number;
  roll_ms: number;
  stall_others_p99_before_ms: number;
  stall_others_p99_during_ms: number;
  stall_others_p99_delta_ms: number;
  stall_queue_bytes_max: number;
  stall_queue_bound_bytes: number;
  stall_lost: number;
  drain_moved: number;
  drain_peak_per_s: number;
  drain_even_per_s: number;
  drain_peak_vs_even: number;
  drain_lost: number;
  /** null when the backstop ended the phase first (see drain_unfinished). */
  drain_all_resumed_ms: number | null;
  /** What the drain reached when the backstop ended it; null when every moved client resumed. */
  drain_unfinished: {
    expected: number;
    moved: number;
    resumed: number;
    states: Record<string, number>;
    errors: Record<string, number>;
  } | null;
  gateway_rss_bytes_per_conn: number;
  logic_rss_bytes: number[];
  logic_rss_before_connections_bytes: number[];
  /** Mean growth of one logic process's RSS per connection of the whole system (each process holds every connection's entries). */
  logic_rss_bytes_per_conn: number;
  gateway_cpu_s_per_1000_deliveries: number;
  logic_cpu_s_per_1000_deliveries: number;
  /** Where the machine's CPU went in the steady phase: cores by group, and shares of the machine by kind. */
  steady_cpu: {
    cores: { gateways: number; logic: number; nats: number; load_generators: number; bench_runner: number };
    machine: { user: number; system: number; softirq: number; idle: number };
    per_process: Record<string, number>;
  };
  /** Event-loop delay p99 over the steady phase (prom-client's nodejs_eventloop_lag_p99_seconds), ms, by process. */
  steady_event_loop_p99_ms: Record<string, number>;
  disconnects_total: number;
  lost_total: number;
  duplicates_total: number;
  /** Resume pages that repeated messages a probe had: counted, not an error (see chat-load-client.ts). */
  page_overlaps_total: number;
  publish_failures: number;
}

async function waitFor(
  what: string,
  cond: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

async function ready(sys: ScaleSystem, name: string): Promise<boolean> {
  const t = sys.stack.opsTargets.find((x) => x.name === name);
  if (t === undefined) return false;
  return fetch(`http://${t.address}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
    (r) => r.ok,
    () => false,
  );
}

/** Restarts a logic process through the supervisor (SIGTERM, it exits, it is started again) and waits until it is ready. */
async function bounceLogic(sys: ScaleSystem, j: number): Promise<void> {
  const p = sys.stack.logic[j];
  const pid = p?.pid();
  if (p === undefined || pid === undefined) throw new Error(`logic-${j} is not running`);
  const starts = p.starts();
  process.kill(pid, "SIGTERM");
  await waitFor(`logic-${j} restarted`, () => p.starts() > starts && p.pid() !== undefined, 120_000);
  await waitFor(`logic-${j} ready`, () => ready(sys, `logic-${j}`), 120_000);
}

export async function runScale(o: ScaleOptions): Promise<ScaleResult> {
  const perGateway = Math.ceil(o.connections / o.gateways);
  const sys = await startScaleSystem({
    gateways: o.gateways,
    connectionsPerGateway: perGateway,
    drainWindow: `${o.drainWindowS}s`,
  });
  let fleet: LoadFleet | undefined;
  const publisher = new Publisher(sys, o.publishesPerSecond);
  try {
    o.log(`system up: ${o.gateways} gateways, 2 logic, nats-server; opening ${o.connections} connections`);
    const logicRssBefore = [...sys.pids()]
      .filter(([n]) => n.startsWith("logic-"))
      .map(([, pid]) => rssBytes(pid));
    const t0 = performance.now();
    fleet = await LoadFleet.start(
      {
        gateways: sys.gateways,
        jwtSecret: sys.jwtSecret,
        connections: connections(o),
        processes: o.generators,
        addressesPerProcess: 2,
        connectConcurrency: 1000,
      },
      600_000,
    );
    const connectS = (performance.now() - t0) / 1000;
    const connectPerS = Math.round(o.connections / connectS);
    o.log(
      `${o.connections} connections authenticated and joined in ${connectS.toFixed(1)} s (${connectPerS}/s)`,
    );
    const all = new Map(sys.pids());
    for (const [i, pid] of fleet.pids.entries()) all.set(`load-${i}`, pid);
    all.set("bench-runner", process.pid);
    const processNames = [...sys.pids().keys()].filter((n) => n !== "nats-server");
    // prom-client's event-loop percentiles cover the time since the last scrape.
    const loopP99 = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const n of processNames) {
        const text = await sys.metrics(n).catch(() => "");
        out[n] = Math.round(metricSum(text, "nodejs_eventloop_lag_p99_seconds") * 1e5) / 100;
      }
      return out;
    };
    const gatewayRss = () =>
      [...sys.pids()].filter(([n]) => n.startsWith("gateway-")).reduce((a, [, pid]) => a + rssBytes(pid), 0);

    // Steady load.
    fleet.setRate(o.sendsPerSecond);
    publisher.start();
    await sleep(5000);
    await fleet.stats(true);
    const cpu = new CpuMeter(all);
    const machine = new MachineCpu();
    await loopP99();
    const steadyFramesStart = (await fleet.stats(false)).frames;
    await sleep(o.steadyMs);
    const used = cpu.read();
    const machineUsed = machine.read();
    const steadyLoopP99 = await loopP99();
    const steady = await fleet.stats(true);
    const steadyS = o.steadyMs / 1000;
    // Frames counted by every connection, less the senders' acks: messages delivered.
    const deliveries = steady.frames - steadyFramesStart - steady.sent;
    const cores = (prefix: string) =>
      Object.entries(used)
        .filter(([n]) => n.startsWith(prefix))
        .reduce((a, [, c]) => a + c, 0);
    const per1000 = (c: number) => Math.round(((c * steadyS) / (deliveries / 1000)) * 10_000) / 10_000;
    const gwRss = gatewayRss();
    const logicRss = [...sys.pids()].filter(([n]) => n.startsWith("logic-")).map(([, pid]) => rssBytes(pid));
    const r2 = (x: number) => Math.round(x * 100) / 100;
    const steadyCpu = {
      cores: {
        gateways: r2(cores("gateway-")),
        logic: r2(cores("logic-")),
        nats: r2(cores("nats-server")),
        load_generators: r2(cores("load-")),
        bench_runner: r2(cores("bench-runner")),
      },
      machine: machineUsed,
      per_process: used,
    };
    o.log(
      `steady ${steadyS} s: ${Math.round(deliveries / steadyS)} deliveries/s, e2e p50 ${pct(steady.e2e, 50)} ` +
        `p99 ${pct(steady.e2e, 99)} ms; cores ${JSON.stringify(steadyCpu.cores)}; machine ${JSON.stringify(machineUsed)}; ` +
        `event-loop p99 ms ${JSON.stringify(steadyLoopP99)}`,
    );

    // Logic rolled under load, one process after the other.
    const rollStart = performance.now();
    await bounceLogic(sys, 0);
    await bounceLogic(sys, 1);
    const rollMs = Math.round(performance.now() - rollStart);
    await sleep(3000); // in-flight sends settle
    const roll = await fleet.stats(true);
    o.log(
      `logic roll in ${rollMs} ms: disconnects ${roll.disconnects}, gaps ${roll.gaps}, unrecovered ${roll.unrecovered}, ` +
        `duplicates ${roll.duplicates}, e2e p99 ${pct(roll.e2e, 99)} ms`,
    );

    // A stalled gateway: the others' latency must not move; its queues in logic stay bounded.
    const victim = o.gateways - 1;
    await sleep(5000);
    const before = await fleet.stats(true);
    const victimPid = sys.stack.gateways[victim]?.pid() as number;
    let queueMax = 0;
    let bound = 0;
    process.kill(victimPid, "SIGSTOP");
    const stallEnd = performance.now() + o.stallMs;
    while (performance.now() < stallEnd) {
      for (const l of ["logic-0", "logic-1"]) {
        const text = await sys.metrics(l).catch(() => "");
        queueMax = Math.max(
          queueMax,
          metricSum(text, "chatcluster_logic_push_queue_bytes", `gateway="gateway-${victim}"`),
        );
        bound = Math.max(bound, metricSum(text, "chatcluster_logic_push_queue_limit_bytes"));
      }
      await sleep(250);
    }
    const during = await fleet.stats(true);
    process.kill(victimPid, "SIGCONT");
    await sleep(10_000); // its clients catch up by seq
    const after = await fleet.stats(true);
    const others = (s: FleetStats) => {
      const h = s.e2eByGateway.filter((_, g) => g !== victim);
      return h.length === 0 ? 0 : Math.max(...h.map((x) => pct(x, 99)));
    };
    o.log(
      `stall of gateway-${victim} for ${o.stallMs} ms: others' p99 ${others(before)} -> ${others(during)} ms; ` +
        `its queue max ${queueMax} B (bound ${bound}); after SIGCONT gaps resumed ${after.gaps}, unrecovered ${after.unrecovered}`,
    );

    // A drained gateway: its clients move to the others, spread over the window.
    const drained = 0;
    const drainedConns = Math.round(o.connections / o.gateways);
    const drainPid = sys.stack.gateways[drained]?.pid() as number;
    const drainStart = performance.timeOrigin + performance.now();
    if (process.env.BENCH_SCALE_DEBUG)
      o.log(`drain: SIGTERM ${drainPid}; resources ${process.getActiveResourcesInfo().join(",")}`);
    process.kill(drainPid, "SIGTERM");
    let drainStats: FleetStats | undefined;
    let moved = 0;
    let resumed = 0;
    let lastReport = performance.now();
    // A run that misses says so in the file: at the backstop the phase ends
    // with what it reached (and the connections' states) instead of failing.
    const drainFinished = await waitFor(
      "every drained client moved and resumed",
      async () => {
        drainStats = await fleet?.stats(false);
        moved = drainStats?.moves ?? 0;
        resumed = drainStats?.resumed ?? 0;
        if (process.env.BENCH_SCALE_DEBUG || performance.now() - lastReport > 15_000) {
          lastReport = performance.now();
          o.log(
            `drain: moved ${moved} resumed ${resumed} states ${JSON.stringify(drainStats?.states)} ` +
              `refused ${drainStats?.refusedUpgrades} failures ${drainStats?.connectFailures} ` +
              `disconnects ${drainStats?.disconnects} errors ${JSON.stringify(drainStats?.errors)}`,
          );
        }
        return moved >= drainedConns * 0.99 && resumed >= moved;
      },
      (o.drainWindowS + o.drainBackstopS) * 1000,
    ).then(
      () => true,
      () => false,
    );
    const drainUnfinished = drainFinished
      ? null
      : {
          expected: drainedConns,
          moved,
          resumed,
          states: drainStats?.states ?? {},
          errors: drainStats?.errors ?? {},
        };
    if (!drainFinished)
      o.log(
        `drain: not every moved client resumed within ${o.drainWindowS + o.drainBackstopS} s; recorded as a miss`,
      );
    const allResumedMs = drainFinished
      ? Math.round(performance.timeOrigin + performance.now() - drainStart)
      : null;
    const drain = await fleet.stats(true);
    const perSecond = new Map<number, number>();
    for (const t of drain.moveTimes) {
      const s = Math.floor((t - drainStart) / 1000);
      perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
    }
    const peak = Math.max(0, ...perSecond.values());
    const even = drain.moves / o.drainWindowS;
    o.log(
      `drain of gateway-${drained}: ${drain.moves} moved, peak ${peak}/s against an even ${Math.round(even)}/s; ` +
        `all resumed after ${allResumedMs} ms; gaps resumed ${drain.gaps}, unrecovered ${drain.unrecovered}`,
    );

    fleet.setRate(0);
    publisher.stop();
    await sleep(3000);
    const tail = await fleet.stats(true);
    const phases = [steady, roll, before, during, after, drain, tail];
    const total = (f: (s: FleetStats) => number) => phases.reduce((a, s) => a + f(s), 0);
    return {
      connections: o.connections,
      gateways: o.gateways,
      connect_per_s: connectPerS,
      steady_e2e_p50_ms: pct(steady.e2e, 50),
      steady_e2e_p99_ms: pct(steady.e2e, 99),
      steady_deliveries_per_s: Math.round(deliveries / steadyS),
      steady_sends_per_s: Math.round(steady.sent / steadyS),
      steady_publishes_per_s: o.publishesPerSecond,
      roll_disconnects: roll.disconnects,
      roll_lost: roll.unrecovered,
      roll_duplicates: roll.duplicates,
      roll_gaps_resumed: roll.gaps,
      roll_e2e_p99_ms: pct(roll.e2e, 99),
      roll_ms: rollMs,
      stall_others_p99_before_ms: others(before),
      stall_others_p99_during_ms: others(during),
      stall_others_p99_delta_ms: Math.round((others(during) - others(before)) * 1000) / 1000,
      stall_queue_bytes_max: queueMax,
      stall_queue_bound_bytes: bound,
      stall_lost: during.unrecovered + after.unrecovered,
      drain_moved: drain.moves,
      drain_peak_per_s: peak,
      drain_even_per_s: Math.round(even),
      drain_peak_vs_even: even > 0 ? Math.round((peak / even) * 100) / 100 : 0,
      drain_lost: drain.unrecovered,
      drain_all_resumed_ms: allResumedMs,
      drain_unfinished: drainUnfinished,
      gateway_rss_bytes_per_conn: Math.round(gwRss / o.connections),
      logic_rss_bytes: logicRss,
      logic_rss_before_connections_bytes: logicRssBefore,
      // What logic holds per connection (interest and presence entries), RSS growth over the connections.
      logic_rss_bytes_per_conn: Math.round(
        logicRss.reduce((a, b) => a + b, 0) / logicRss.length / o.connections -
          logicRssBefore.reduce((a, b) => a + b, 0) / logicRssBefore.length / o.connections,
      ),
      gateway_cpu_s_per_1000_deliveries: per1000(cores("gateway-")),
      logic_cpu_s_per_1000_deliveries: per1000(cores("logic-")),
      steady_cpu: steadyCpu,
      steady_event_loop_p99_ms: steadyLoopP99,
      // Moves are not disconnects; the drain phase's closes are moves.
      disconnects_total: total((s) => s.disconnects),
      lost_total: total((s) => s.unrecovered),
      duplicates_total: total((s) => s.duplicates),
      page_overlaps_total: total((s) => s.pageOverlaps),
      publish_failures: publisher.failures,
    };
  } finally {
    const debug = (m: string) => (process.env.BENCH_SCALE_DEBUG ? o.log(m) : undefined);
    publisher.stop();
    debug("stopping the load generators");
    await fleet?.stop();
    debug("stopping the system");
    await sys.stop();
    debug("stopped");
  }
}
