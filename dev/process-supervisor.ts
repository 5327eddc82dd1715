import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

/**
 * Runs the stack's processes, prefixes their log lines, restarts one that dies
 * unexpectedly (with a growing delay, so a crash loop does not spin), and stops
 * them all with SIGTERM, then SIGKILL after a grace period.
 */
export interface ProcessSpec {
  /** Short unique name, also the log prefix (`gateway-0`). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export interface SupervisedProcess {
  readonly spec: ProcessSpec;
  /** The running child's pid, or undefined between a crash and its restart. */
  pid(): number | undefined;
  /** How many times it was started. */
  starts(): number;
}

const RESTART_BASE_MS = 250;
const RESTART_MAX_MS = 10_000;

export class ProcessSupervisor {
  readonly #procs = new Map<
    string,
    { spec: ProcessSpec; child?: ChildProcess; starts: number; timer?: NodeJS.Timeout }
  >();
  readonly #write: (line: string) => void;
  #stopping = false;

  constructor(write: (line: string) => void) {
    this.#write = write;
  }

  start(spec: ProcessSpec): SupervisedProcess {
    if (this.#procs.has(spec.name)) throw new Error(`process ${spec.name} already exists`);
    const entry: { spec: ProcessSpec; child?: ChildProcess; starts: number; timer?: NodeJS.Timeout } = {
      spec,
      starts: 0,
    };
    this.#procs.set(spec.name, entry);
    this.#launch(entry);
    return { spec, pid: () => entry.child?.pid, starts: () => entry.starts };
  }

  #launch(entry: { spec: ProcessSpec; child?: ChildProcess; starts: number; timer?: NodeJS.Timeout }): void {
    const { spec } = entry;
    entry.starts++;
    const child = spawn(spec.command, [...spec.args], {
      env: { ...process.env, ...spec.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    entry.child = child;
    const prefix = `[${spec.name}] `;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => this.#write(prefix + line));
    }
    const startedAt = Date.now();
    child.on("exit", (code, signal) => {
      entry.child = undefined;
      if (this.#stopping) return;
      // A process that ran for a while gets restarted quickly; a crash loop backs off.
      const ranMs = Date.now() - startedAt;
      const delay =
        ranMs > 30_000 ? RESTART_BASE_MS : Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** entry.starts);
      this.#write(`${prefix}exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      entry.timer = setTimeout(() => this.#launch(entry), delay);
    });
  }

  /** SIGTERM to every process, SIGKILL to those still running after graceMs. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    const exits: Promise<void>[] = [];
    for (const entry of this.#procs.values()) {
      clearTimeout(entry.timer);
      const child = entry.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) continue;
      exits.push(
        new Promise<void>((resolve) => {
          const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
          child.once("exit", () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill("SIGTERM");
        }),
      );
    }
    await Promise.all(exits);
  }
}
