// Child process management for the testenv components.
//
// Every component runs in its own process group (spawn detached) with stdout and
// stderr appended to a log file. Stopping signals the whole group and waits until
// the group is gone. Three layers make sure nothing outlives the test process:
//   1. stop() / the harness' own stop functions (normal path),
//   2. process "exit" and SIGINT/SIGTERM handlers that SIGKILL every live group,
//   3. one watchdog shell per test process, reading the groups to guard on its
//      stdin; when the test process dies, even by SIGKILL, the pipe reaches EOF
//      and the watchdog kills every group still registered.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import type { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartProcessOptions {
  /** Short component name used in messages (e.g. "etcd"). */
  name: string;
  command: string;
  args: string[];
  /** File that receives stdout and stderr (appended). */
  logPath: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves when the group leader exits. */
  readonly exited: Promise<ExitInfo>;
  #exit: ExitInfo | undefined;
  readonly #child: ChildProcess;

  constructor(child: ChildProcess, name: string, logPath: string) {
    if (child.pid === undefined) throw new Error(`testenv: could not start ${name}`);
    this.#child = child;
    this.name = name;
    this.pid = child.pid;
    this.logPath = logPath;
    this.exited = new Promise<ExitInfo>((resolve) => {
      child.once("exit", (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
  }

  /** True until the group leader has exited. */
  get running(): boolean {
    return this.#exit === undefined;
  }

  /** The exit status, once exited. */
  get exitInfo(): ExitInfo | undefined {
    return this.#exit;
  }

  /** Sends a signal to the whole process group (no-op when it is gone). */
  signal(sig: NodeJS.Signals): void {
    signalGroup(this.pid, sig);
  }

  /** SIGTERM to the group, SIGKILL after graceMs, resolves when the group is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    // The child is unref'd (a forgotten stop must not keep a test alive); a
    // stop that is awaited must keep the caller alive until the exit arrives,
    // or a script whose last work is this stop ends with the await unsettled.
    this.#child.ref();
    if (groupAlive(this.pid)) {
      signalGroup(this.pid, "SIGCONT"); // a stopped (SIGSTOP) process cannot handle SIGTERM
      signalGroup(this.pid, "SIGTERM");
      const deadline = Date.now() + graceMs;
      while (groupAlive(this.pid) && Date.now() < deadline) await sleep(50);
      if (groupAlive(this.pid)) signalGroup(this.pid, "SIGKILL");
    }
    await this.exited;
    while (groupAlive(this.pid)) await sleep(20);
    unguard(this.pid);
  }

  /** Last lines of the log file, for error messages. */
  logTail(lines = 30): string {
    return tailFile(this.logPath, lines);
  }
}

export function tailFile(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * True while the process group has a live (non-zombie) member. kill(-pgid, 0)
 * also succeeds for zombies (exited members not yet reaped by their parent,
 * e.g. orphans waiting for a slow init), so a positive answer is confirmed
 * through /proc.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return true;
  }
  for (const ent of entries) {
    if (!/^\d+$/.test(ent)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${ent}/stat`, "utf8");
    } catch {
      continue;
    }
    // Fields after "(comm) ": state ppid pgrp ...
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") return true;
  }
  return false;
}

// ---- guards: exit handlers + watchdog -------------------------------------

const guarded = new Set<number>();
let watchdogStdin: Writable | undefined;
let handlersInstalled = false;

const WATCHDOG_SCRIPT = `
declare -A groups
while read -r op id; do
  case "$op" in
    add) groups[$id]=1 ;;
    del) unset "groups[$id]" ;;
  esac
done
[ "\${#groups[@]}" -eq 0 ] && exit 0
for id in "\${!groups[@]}"; do kill -CONT -- "-$id" 2>/dev/null; kill -TERM -- "-$id" 2>/dev/null; done
for _ in $(seq 50); do
  alive=0
  for id in "\${!groups[@]}"; do kill -0 -- "-$id" 2>/dev/null && alive=1; done
  [ "$alive" -eq 0 ] && exit 0
  sleep 0.1
done
for id in "\${!groups[@]}"; do kill -KILL -- "-$id" 2>/dev/null; done
`;

function killAllGuardedNow(): void {
  for (const pgid of guarded) {
    signalGroup(pgid, "SIGKILL");
  }
  guarded.clear();
}

function ensureGuards(): void {
  if (watchdogStdin === undefined) {
    const dog = spawn("bash", ["-c", WATCHDOG_SCRIPT, "testenv-watchdog"], {
      detached: true,
      stdio: ["pipe", "ignore", "ignore"],
    });
    dog.unref();
    const stdin = dog.stdin;
    if (stdin === null) throw new Error("testenv: watchdog has no stdin");
    // Do not keep the event loop alive for the watchdog.
    (stdin as unknown as { unref?: () => void }).unref?.();
    stdin.on("error", () => {});
    watchdogStdin = stdin;
  }
  if (!handlersInstalled) {
    handlersInstalled = true;
    process.on("exit", killAllGuardedNow);
    for (const [sig, code] of [
      ["SIGINT", 130],
      ["SIGTERM", 143],
    ] as const) {
      // Leave signal handling to the program when it has its own (e.g. cluster-up).
      if (process.listenerCount(sig) === 0) {
        process.once(sig, () => {
          killAllGuardedNow();
          process.exit(code);
        });
      }
    }
  }
}

function guard(pgid: number): void {
  ensureGuards();
  guarded.add(pgid);
  watchdogStdin?.write(`add ${pgid}\n`);
}

function unguard(pgid: number): void {
  if (!guarded.delete(pgid)) return;
  watchdogStdin?.write(`del ${pgid}\n`);
}

/** Starts a component in its own process group, logging to opts.logPath. */
export function startProcess(opts: StartProcessOptions): ManagedProcess {
  ensureGuards();
  const fd = openSync(opts.logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn(opts.command, opts.args, {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
  } finally {
    closeSync(fd);
  }
  child.on("error", () => {}); // reported through exit / readiness checks
  // A forgotten stop() must not keep the test process alive; the exit handler
  // and the watchdog then take the group down.
  child.unref();
  const proc = new ManagedProcess(child, opts.name, opts.logPath);
  guard(proc.pid);
  return proc;
}
