// `make cluster-up` / `make cluster-down`: a testenv cluster for manual use,
// owned by a detached supervisor process: the control plane with kwok (default)
// or with the real node (`--node=real`, see testenv/node/real-node.ts).
//
//   node testenv/harness/cluster.ts up [--node=kwok|real]   start (or reuse) it; last line: KUBECONFIG=<path>
//   node testenv/harness/cluster.ts down    stop it and every component (no orphans); for the
//                                           real node also everything it made on the machine
//   node testenv/harness/cluster.ts status
//
// State lives in ${XDG_CACHE_HOME:-$HOME/.cache}/chatcluster/cluster: state.json
// (kind, supervisor pid, component process groups, kubeconfig), supervisor.log and,
// for kwok, run/ (pki, etcd data, logs/<component>.log, kubeconfig). The real node
// keeps its own state in ${XDG_CACHE_HOME:-$HOME/.cache}/chatcluster/node.
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
import { imageArchivePath } from "../../image/build-image.ts";
import { nodeDir, processAlive, readNodeState } from "../node/node-state.ts";
import { type RealNode, startRealNode } from "../node/real-node.ts";
import { nodeLeftovers, teardownNode } from "../node/teardown.ts";
import { type ControlPlane, startControlPlane } from "./controlplane.ts";
import { binDir, cacheRoot } from "./paths.ts";
import { tailFile } from "./proc.ts";

type NodeKind = "kwok" | "real";

interface ClusterState {
  kind: NodeKind;
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

const alive = processAlive;

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

async function up(kind: NodeKind): Promise<number> {
  const existing = readState();
  if (supervisorRunning(existing)) {
    if ((existing.kind ?? "kwok") !== kind) {
      console.error(`cluster: a ${existing.kind ?? "kwok"} cluster is running; \`make cluster-down\` first`);
      return 1;
    }
    console.log(`cluster already running (supervisor pid ${existing.supervisorPid}, ${existing.server})`);
    console.log(`KUBECONFIG=${existing.kubeconfigPath}`);
    return 0;
  }
  mkdirSync(stateDir, { recursive: true });
  rmSync(statePath, { force: true });
  rmSync(join(stateDir, "run"), { recursive: true, force: true });
  const fd = openSync(supervisorLog, "w");
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "serve", `--node=${kind}`], {
    detached: true,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  child.unref();
  const started = Date.now();
  console.log(`cluster: starting (supervisor pid ${child.pid}, log ${supervisorLog})`);
  while (Date.now() - started < 300_000) {
    const state = readState();
    if (state !== undefined) {
      console.log(`cluster: ready in ${((Date.now() - started) / 1000).toFixed(1)}s at ${state.server}`);
      const logs = kind === "real" ? join(nodeDir(), "logs") : join(stateDir, "run", "logs");
      console.log(`cluster: component logs in ${logs}; stop with \`make cluster-down\``);
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

async function serve(kind: NodeKind): Promise<void> {
  let cp: ControlPlane | undefined;
  let node: RealNode | undefined;
  let stopping = false;
  const shutdown = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      await node?.stop();
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
    if (kind === "real") {
      // The workload image, when `make image` built it (cluster-up NODE=real does).
      node = await startRealNode({
        name: "cluster",
        images: existsSync(imageArchivePath) ? [imageArchivePath] : [],
        timeoutMs: 240_000,
      });
    } else {
      cp = await startControlPlane({
        name: "cluster",
        kwok: true,
        dir: join(stateDir, "run"),
        timeoutMs: 150_000,
      });
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    clearInterval(keepAlive);
    process.exit(1);
  }
  const plane = node?.controlPlane ?? cp;
  if (plane === undefined) throw new Error("cluster: nothing started");
  const state: ClusterState = {
    kind,
    supervisorPid: process.pid,
    kubeconfigPath: plane.kubeconfigPath,
    server: plane.server,
    groups: { ...plane.pids },
  };
  writeFileSync(`${statePath}.tmp`, JSON.stringify(state, null, 2));
  renameSync(`${statePath}.tmp`, statePath);
  const took = node !== undefined ? ` (real node up in ${(node.startupMs / 1000).toFixed(1)}s)` : "";
  console.log(`cluster: ready at ${plane.server}${took}; KUBECONFIG=${plane.kubeconfigPath}`);
}

/**
 * The real node's remains: after its supervisor (or a test) died, everything it
 * made is still on the machine until this runs. A node whose owner lives (a test
 * using it) is left alone.
 */
async function downRealNode(): Promise<number> {
  const state = readNodeState();
  if (state !== undefined && alive(state.owner)) {
    console.log(`cluster: the real node is owned by running pid ${state.owner}; left alone`);
    return 0;
  }
  const before = nodeLeftovers(state);
  if (before.length === 0) return 0;
  console.log(`cluster: removing what the real node left (${before.length} items)`);
  await teardownNode(state);
  const after = nodeLeftovers(state);
  if (after.length === 0) return 0;
  console.error(`cluster: could not remove:\n  ${after.join("\n  ")}`);
  return 1;
}

async function down(): Promise<number> {
  const state = readState();
  if (state === undefined) {
    const code = await downRealNode();
    console.log("cluster: not running");
    return code;
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
  const code = await downRealNode();
  console.log("cluster: stopped");
  return code;
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

function nodeKind(args: readonly string[]): NodeKind {
  const flag = args.find((a) => a.startsWith("--node="));
  const kind = flag === undefined || flag === "--node=" ? "kwok" : flag.slice("--node=".length);
  if (kind !== "kwok" && kind !== "real") throw new Error(`cluster: --node=${kind}: want kwok or real`);
  return kind;
}

const cmd = process.argv[2];
switch (cmd) {
  case "up":
    process.exitCode = await up(nodeKind(process.argv.slice(3)));
    break;
  case "serve":
    await serve(nodeKind(process.argv.slice(3)));
    break;
  case "down":
    process.exitCode = await down();
    break;
  case "status":
    process.exitCode = status();
    break;
  default:
    console.error("usage: node testenv/harness/cluster.ts up [--node=kwok|real] | down | status");
    process.exitCode = 2;
}
