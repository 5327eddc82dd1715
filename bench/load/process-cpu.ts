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
