// `make cluster-up` / `make cluster-down`: the testenv control plane (with kwok)
// for manual use, owned by a detached supervisor process.
//
//   node testenv/harness/cluster.ts up     start (or reuse) it; last line: KUBECONFIG=<path>
//   node testenv/harness/cluster.ts down   stop it and every component (no orphans)
//   node testenv/harness/cluster.ts status
//
// State lives in ${XDG_CACHE_HOME:-$HOME/.cache}/chatcluster/cluster: state.json
// (supervisor pid, component process groups, kubeconfig), supervisor.log and
// run/ (pki, etcd data, logs/<component>.log, kubeconfig).
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { type ControlPlane, startControlPlane } from "./controlplane.ts";
import { binDir, cacheRoot } from "./paths.ts";
import { tailFile } from "./proc.ts";

interface ClusterState {
  supervisorPid: number;
  kubeconfigPath: string;
  server: string;
  groups: Record<string, number>;
}

const stateDir = join(cacheRoot(), "cluster");
const statePath = join(stateDir, "state.json");
const supervisorLog = join(stateDir, "supervisor.log");

function readState(): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(statePath, "utf8")) as ClusterState;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when pid is still a process started from the testenv (guards against pid reuse). */
function isOurs(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
  } catch {
    return false;
  }
}

function supervisorRunning(state: ClusterState | undefined): state is ClusterState {
  return state !== undefined && alive(state.supervisorPid) && isOurs(state.supervisorPid, "cluster.ts");
}

async function up(): Promise<number> {
  const existing = readState();
  if (supervisorRunning(existing)) {
    console.log(`cluster already running (supervisor pid ${existing.supervisorPid}, ${existing.server})`);
    console.log(`KUBECONFIG=${existing.kubeconfigPath}`);
    return 0;
  }
  mkdirSync(stateDir, { recursive: true });
  rmSync(statePath, { force: true });
  rmSync(join(stateDir, "run"), { recursive: true, force: true });
  const fd = openSync(supervisorLog, "w");
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "serve"], {
    detached: true,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  child.unref();
  const started = Date.now();
  console.log(`cluster: starting (supervisor pid ${child.pid}, log ${supervisorLog})`);
  while (Date.now() - started < 180_000) {
    const state = readState();
    if (state !== undefined) {
      console.log(`cluster: ready in ${((Date.now() - started) / 1000).toFixed(1)}s at ${state.server}`);
      console.log(
        `cluster: component logs in ${join(stateDir, "run", "logs")}; stop with \`make cluster-down\``,
      );
      console.log(`KUBECONFIG=${state.kubeconfigPath}`);
      return 0;
    }
    if (child.pid === undefined || !alive(child.pid)) break;
    await sleep(250);
  }
  console.error(`cluster: failed to start; last lines of ${supervisorLog}:\n${tailFile(supervisorLog, 40)}`);
  if (child.pid !== undefined && alive(child.pid)) process.kill(child.pid, "SIGTERM");
  return 1;
}

async function serve(): Promise<void> {
  let cp: ControlPlane | undefined;
  let stopping = false;
  const shutdown = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      await cp?.stop();
      rmSync(statePath, { force: true });
      console.log("cluster: stopped");
    }
    process.exit(code);
  };
  process.on("SIGTERM", () => void shutdown(0));
  process.on("SIGINT", () => void shutdown(0));
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    cp = await startControlPlane({
      name: "cluster",
      kwok: true,
      dir: join(stateDir, "run"),
      timeoutMs: 150_000,
    });
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    clearInterval(keepAlive);
    process.exit(1);
  }
  const state: ClusterState = {
    supervisorPid: process.pid,
    kubeconfigPath: cp.kubeconfigPath,
    server: cp.server,
    groups: { ...cp.pids },
  };
  writeFileSync(`${statePath}.tmp`, JSON.stringify(state, null, 2));
  renameSync(`${statePath}.tmp`, statePath);
  console.log(`cluster: ready at ${cp.server}; KUBECONFIG=${cp.kubeconfigPath}`);
}

async function down(): Promise<number> {
  const state = readState();
  if (state === undefined) {
    console.log("cluster: not running");
    return 0;
  }
  if (supervisorRunning(state)) {
    process.kill(state.supervisorPid, "SIGTERM");
    const deadline = Date.now() + 30_000;
    while (alive(state.supervisorPid) && Date.now() < deadline) await sleep(100);
  }
  // Fallback for a supervisor that died without cleaning up: kill leftover groups.
  const marker = binDir();
  for (const [name, pgid] of Object.entries(state.groups)) {
    if (alive(pgid) && isOurs(pgid, marker)) {
      console.log(`cluster: killing leftover ${name} (pgid ${pgid})`);
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  rmSync(statePath, { force: true });
  console.log("cluster: stopped");
  return 0;
}

function status(): number {
  const state = readState();
  if (supervisorRunning(state)) {
    console.log(`cluster: running at ${state.server} (supervisor pid ${state.supervisorPid})`);
    console.log(`KUBECONFIG=${state.kubeconfigPath}`);
    return 0;
  }
  console.log(
    existsSync(statePath) ? "cluster: stale state (run `make cluster-down`)" : "cluster: not running",
  );
  return 1;
}

const cmd = process.argv[2];
switch (cmd) {
  case "up":
    process.exitCode = await up();
    break;
  case "serve":
    await serve();
    break;
  case "down":
    process.exitCode = await down();
    break;
  case "status":
    process.exitCode = status();
    break;
  default:
    console.error("usage: node testenv/harness/cluster.ts up|down|status");
    process.exitCode = 2;
}
