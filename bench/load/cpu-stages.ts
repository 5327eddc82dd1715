// Where the CPU of a send goes: on-CPU samples of the server processes
// (`perf record -e cpu-clock`, so time a process spent waiting for a core on a
// busy machine is not counted), each sample put in the stage of the innermost
// frame of its call chain that a rule below names. JavaScript frames have
// names when the processes run with --perf-basic-prof. Benchmarks only: needs
// `perf` (linux-perf) and permission to attach to the processes.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Sampling frequency (Hz); a prime, so it does not beat with timers. */
const HZ = 997;

/**
 * Stage of a sample: the first rule matching a frame, frames read from the
 * leaf outwards, so `sqlite` inside the store's flush counts as sqlite and the
 * flush's own JavaScript as the store's.
 */
const RULES: readonly (readonly [string, RegExp])[] = [
  ["gc", /Heap::|Scavenger|MarkCompact|GarbageCollect|Sweeper|ConcurrentMarking|MinorMS/],
  ["store: sqlite engine", /sqlite3|node::sqlite/],
  ["store: append (js)", /sqlite-store\.ts|jetstream-store\.ts|bounded-store\.ts|dedupe|admission/],
  ["store: nats client", /@nats-io/],
  ["logic: principal check", /principal-seal\.ts|principal-cache/],
  ["logic: auth (jwt)", /authenticator\.ts|jose/],
  ["metrics (prom-client)", /prom-client/],
  ["logic: send handler", /send-handler\.ts|client-frames\.ts/],
  ["logic: dispatch", /create-handlers\.ts|handler-context\.ts|event-codec/],
  ["logic: event decode", /logic\/src\/link\/frame-codec\.ts.*decode|decodeGatewayFrame|decodeEvent/],
  [
    "logic: push queue and encode",
    /gateway-fleet-impl\.ts|outbound-queue\.ts|encodeDelivery|encodeReply|batchFrame|reply-codec/,
  ],
  ["logic: stream call", /stream-call\.ts|gateway-connection\.ts/],
  ["gateway: socket writes", /send-scheduler\.ts/],
  ["gateway: fan-out", /fan-out\.ts/],
  ["gateway: replies", /logic-replies\.ts|#onReplies|decodeReplies/],
  ["gateway: delivery decode", /decodeLogicFrame|gateway\/src\/link\/frame-codec\.ts/],
  ["gateway: event encode and flush", /link-core\.ts.*#flush|flushEvents|logic-stream\.ts|event-encoder/],
  [
    "gateway: parse and forward",
    /handleClientMessage|inbound\.ts|parse-client-frame|edge-core\.ts|link-core\.ts|event-size\.ts/,
  ],
  ["websocket receive (ws)", /ws\/lib\//],
  ["http2 (node)", /internal\/http2|nghttp2|Http2Session|Http2Stream/],
  ["protobuf-es (generated codecs)", /@bufbuild\/protobuf/],
  ["ceiling server", /ceiling-server\.ts/],
  ["timers and immediates", /processImmediate|listOnTimeout|processTimers/],
  ["socket reads", /onStreamRead|uv__read|OnUvRead/],
  ["event loop (epoll)", /uv__io_poll|epoll_wait/],
];

export interface ProcessStages {
  /** CPU seconds sampled. */
  readonly cpu_s: number;
  /** Microseconds of CPU per send, by stage, largest first. */
  readonly us_per_send: Record<string, number>;
}

export interface StageReport {
  readonly seconds: number;
  readonly sends: number;
  /** By process name (gateway-0, logic-1, ...). */
  readonly processes: Record<string, ProcessStages>;
  /** Summed over the named processes. */
  readonly total_us_per_send: number;
  /** Summed over processes, by stage, largest first. */
  readonly stages_us_per_send: Record<string, number>;
}

/** Whether `perf record` is available here (the report is skipped otherwise). */
export function perfAvailable(): boolean {
  try {
    execFileSync("perf", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Samples the named processes for `seconds`, then classifies the samples;
 * `sends()` is called after the window and must return the sends completed in
 * it (the caller counts them).
 */
export async function recordStages(
  pids: ReadonlyMap<string, number>,
  seconds: number,
  sends: () => Promise<number>,
): Promise<StageReport> {
  const dir = mkdtempSync(join(tmpdir(), "cc-cpu-stages-"));
  const data = join(dir, "perf.data");
  try {
    const child = spawn(
      "perf",
      [
        "record",
        "-e",
        "cpu-clock",
        "-F",
        String(HZ),
        "-g",
        "-p",
        [...pids.values()].join(","),
        "-o",
        data,
        "--",
        "sleep",
        String(seconds),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    if (code !== 0) throw new Error(`perf record failed (${code}): ${stderr.trim().slice(-400)}`);
    const n = await sends();
    const script = execFileSync("perf", ["script", "-i", data, "-F", "pid,tid,comm,ip,sym"], {
      encoding: "utf8",
      maxBuffer: 1 << 30,
      stdio: ["ignore", "pipe", "ignore"],
    });
    return classify(script, pids, seconds, n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Puts every sample of `perf script` output in its process and stage. */
export function classify(
  script: string,
  pids: ReadonlyMap<string, number>,
  seconds: number,
  sends: number,
): StageReport {
  const nameOf = new Map([...pids].map(([name, pid]) => [String(pid), name]));
  const counts = new Map<string, Map<string, number>>();
  const add = (proc: string, stage: string) => {
    let m = counts.get(proc);
    if (m === undefined) {
      m = new Map();
      counts.set(proc, m);
    }
    m.set(stage, (m.get(stage) ?? 0) + 1);
  };
  for (const sample of script.split("\n\n")) {
    const lines = sample.split("\n").filter((l) => l.trim() !== "");
    const header = lines[0];
    if (header === undefined) continue;
    // "<comm> <pid>/<tid>"; comm may contain spaces, pid/tid is the last token.
    const m = /^\s*(.*?)\s+(\d+)\/(\d+)\s*$/.exec(header);
    if (m === null) continue;
    const proc = nameOf.get(m[2] as string);
    if (proc === undefined) continue;
    const comm = m[1] as string;
    let stage: string | undefined;
    if (proc === "nats-server") stage = "nats-server";
    else if (comm.startsWith("V8Worker") || comm.startsWith("V8 DefaultWorke")) stage = "gc (helper threads)";
    else if (comm !== "MainThread" && comm !== "node" && !comm.startsWith("nats-server"))
      stage = `thread: ${comm}`;
    else {
      for (let i = 1; i < lines.length && stage === undefined; i++) {
        const frame = lines[i] as string;
        for (const [name, re] of RULES) {
          if (re.test(frame)) {
            stage = name;
            break;
          }
        }
      }
      stage ??= lines[1]?.includes("kernel") ? "kernel (other)" : "other";
    }
    add(proc, stage);
  }
  const perSend = (samples: number) => Math.round(((samples / HZ) * 1e7) / Math.max(1, sends)) / 10;
  const processes: Record<string, ProcessStages> = {};
  const total = new Map<string, number>();
  let all = 0;
  for (const [proc, m] of [...counts].sort((a, b) => a[0].localeCompare(b[0]))) {
    const sorted = [...m].sort((a, b) => b[1] - a[1]);
    const n = sorted.reduce((s, [, c]) => s + c, 0);
    all += n;
    for (const [stage, c] of sorted) total.set(stage, (total.get(stage) ?? 0) + c);
    processes[proc] = {
      cpu_s: Math.round((n / HZ) * 100) / 100,
      us_per_send: Object.fromEntries(sorted.map(([stage, c]) => [stage, perSend(c)])),
    };
  }
  return {
    seconds,
    sends,
    processes,
    total_us_per_send: perSend(all),
    stages_us_per_send: Object.fromEntries(
      [...total].sort((a, b) => b[1] - a[1]).map(([stage, c]) => [stage, perSend(c)]),
    ),
  };
}
