// CPU time of processes from /proc, for "CPU per process" beside throughput.
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_S = 100; // USER_HZ on Linux

/** User + system CPU seconds a process has used so far (0 when it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start at ") ".
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_S;
  } catch {
    return 0;
  }
}

/** Resident set size in bytes (0 when the process is gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Pids whose command line contains `needle` (e.g. a nats-server's store directory). */
export function pidsMatching(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, "utf8").includes(needle)) out.push(Number(d));
    } catch {
      // Exited while we looked.
    }
  }
  return out;
}

/** CPU used by named processes between two calls: cores busy on average (1.0 = one core). */
export class CpuMeter {
  readonly #pids: Map<string, number>;
  #start = new Map<string, number>();
  #at = 0;

  constructor(pids: Map<string, number>) {
    this.#pids = pids;
    this.reset();
  }

  reset(): void {
    this.#at = performance.now();
    this.#start = new Map([...this.#pids].map(([name, pid]) => [name, cpuSeconds(pid)]));
  }

  /** Cores used per process since reset(), rounded to 0.01. */
  read(): Record<string, number> {
    const s = (performance.now() - this.#at) / 1000;
    const out: Record<string, number> = {};
    for (const [name, pid] of this.#pids)
      out[name] = Math.round(((cpuSeconds(pid) - (this.#start.get(name) ?? 0)) / s) * 100) / 100;
    return out;
  }
}

/** The whole machine's CPU time by kind (/proc/stat's first line), in ticks. */
function machineTicks(): { user: number; system: number; softirq: number; idle: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  return {
    user: user + nice,
    system: system + irq,
    softirq,
    idle: idle + iowait,
    total: user + nice + system + idle + iowait + irq + softirq + steal,
  };
}

/** Where the whole machine's CPU went between reset() and read(): shares of all cores, rounded to 0.01. */
export class MachineCpu {
  #start = machineTicks();

  reset(): void {
    this.#start = machineTicks();
  }

  read(): { user: number; system: number; softirq: number; idle: number } {
    const now = machineTicks();
    const total = Math.max(1, now.total - this.#start.total);
    const share = (k: "user" | "system" | "softirq" | "idle") =>
      Math.round(((now[k] - this.#start[k]) / total) * 100) / 100;
    return { user: share("user"), system: share("system"), softirq: share("softirq"), idle: share("idle") };
  }
}
