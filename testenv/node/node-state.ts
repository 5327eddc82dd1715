// What the real node owns on this machine, recorded before anything is changed,
// so the node can be taken down completely even after its owner died: the
// owner's pid, the process groups it started, the kernel settings and the fixed
// host paths as they were before.
//
// One real node per machine (kubelet's port 10250 and the fixed paths below are
// machine-wide): a second owner is refused while the first is alive.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot } from "../harness/paths.ts";

/**
 * Paths kubelet, containerd, the CNI plugins and mount(8) use whatever their
 * root directories are set to (kubelet's --root-dir does not cover them):
 * /var/log/containers (kubelet's log links), /var/lib/kubelet (device plugins'
 * socket), /var/lib/cni (libcni's results cache), /run/netns (pod network
 * namespaces), /run/containerd (shim sockets), /opt/containerd, /run/mount
 * (util-linux's table of the bind mounts kubelet makes), /var/log/pods (the
 * default pod logs dir, in case kubelet ignores podLogsDir).
 */
export const FIXED_HOST_PATHS = [
  "/var/log/pods",
  "/var/log/containers",
  "/var/lib/kubelet",
  "/var/lib/cni",
  "/run/netns",
  "/run/containerd",
  "/opt/containerd",
  "/run/mount",
] as const;

export interface NodeState {
  /** pid of the process that owns the node (a test, or cluster-up's supervisor). */
  owner: number;
  startedAt: string;
  /** Component process groups (name -> pgid). */
  groups: Record<string, number>;
  /** Values of TOUCHED_SYSCTLS before the node changed them. */
  sysctls: Record<string, string>;
  /** For each fixed host path: null when it did not exist, else the names it held. */
  hostPaths: Record<string, string[] | null>;
  /** nftables tables ("family name") that existed before. */
  nftTables: string[];
  /** containerd's socket: its shims carry it on their command line. */
  containerdAddress: string;
}

/** ${XDG_CACHE_HOME:-~/.cache}/chatcluster/node: the node's state, kubelet and containerd roots, logs. */
export function nodeDir(): string {
  return join(cacheRoot(), "node");
}

const statePath = () => join(nodeDir(), "state.json");

export function readNodeState(): NodeState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(), "utf8")) as NodeState;
  } catch {
    return undefined;
  }
}

export function writeNodeState(state: NodeState): void {
  mkdirSync(nodeDir(), { recursive: true });
  writeFileSync(`${statePath()}.tmp`, JSON.stringify(state, null, 2));
  renameSync(`${statePath()}.tmp`, statePath());
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** What each fixed host path holds now (null: absent). */
export function snapshotHostPaths(): Record<string, string[] | null> {
  const out: Record<string, string[] | null> = {};
  for (const p of FIXED_HOST_PATHS) out[p] = existsSync(p) ? readdirSync(p).sort() : null;
  return out;
}
