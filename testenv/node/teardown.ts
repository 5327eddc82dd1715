// Takes the real node off this machine: every process it started (containers and
// containerd's shims included, which leave their parents' process groups), every
// mount, network namespace, veth, the bridge, nftables/iptables rules, kubepods
// cgroups, the fixed host paths kubelet and containerd create, and the kernel
// settings it changed. Works from the recorded state alone, so it also cleans up
// after an owner that died; every step tolerates what is already gone.
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { groupAlive } from "../harness/proc.ts";
import { bridgePorts, NODE_NETWORK, removeNodeNetwork, run, runQuietly, writeSysctls } from "./network.ts";
import { FIXED_HOST_PATHS, type NodeState, nodeDir } from "./node-state.ts";

/** Component stop order: the kubelet first, so nothing restarts the containers being killed. */
const STOP_ORDER = [
  "kubelet",
  "kube-proxy",
  "coredns",
  "prometheus",
  "containerd",
  "kube-controller-manager",
  "kube-scheduler",
  "kube-apiserver",
  "etcd",
];

/** Chains and tables Kubernetes and the CNI plugins create. */
const OWNED_CHAIN = /^(KUBE-|CNI-)/;
const OWNED_TABLE = /^(ip|ip6|inet) (kube-proxy|chatcluster-node)$/;

// ---- processes ------------------------------------------------------------------

function cgroupHierarchies(): string[] {
  const root = "/sys/fs/cgroup";
  if (existsSync(join(root, "cgroup.controllers"))) return [root]; // cgroup v2 only
  return readdirSync(root)
    .map((d) => join(root, d))
    .filter((d) => existsSync(join(d, "cgroup.procs")));
}

/** Every kubepods cgroup directory, deepest first. */
function kubepodsCgroups(): string[] {
  const dirs: string[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      return;
    }
    for (const n of names) walk(join(dir, n));
    dirs.push(dir);
  };
  for (const h of cgroupHierarchies()) if (existsSync(join(h, "kubepods"))) walk(join(h, "kubepods"));
  return dirs;
}

function pidsIn(cgroup: string): number[] {
  try {
    return readFileSync(join(cgroup, "cgroup.procs"), "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map(Number);
  } catch {
    return [];
  }
}

function kill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** containerd's shims for this node: `containerd-shim-runc-v2 ... -address <socket>`. */
function shimPids(address: string): number[] {
  const pids: number[] = [];
  for (const ent of readdirSync("/proc")) {
    if (!/^\d+$/.test(ent)) continue;
    let cmd: string[];
    try {
      cmd = readFileSync(`/proc/${ent}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if ((cmd[0] ?? "").includes("containerd-shim") && cmd.includes(address)) pids.push(Number(ent));
  }
  return pids;
}

async function stopGroups(groups: Readonly<Record<string, number>>, names: readonly string[]): Promise<void> {
  const ordered = [...names].sort((a, b) => {
    const ia = STOP_ORDER.indexOf(a);
    const ib = STOP_ORDER.indexOf(b);
    return (ia === -1 ? STOP_ORDER.length : ia) - (ib === -1 ? STOP_ORDER.length : ib);
  });
  for (const name of ordered) {
    const pgid = groups[name];
    if (pgid === undefined || !groupAlive(pgid)) continue;
    kill(-pgid, "SIGCONT");
    kill(-pgid, "SIGTERM");
    const deadline = Date.now() + 10_000;
    while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
    if (groupAlive(pgid)) kill(-pgid, "SIGKILL");
    while (groupAlive(pgid)) await sleep(20);
  }
}

async function killContainers(address: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const pids = [...kubepodsCgroups().flatMap(pidsIn), ...(address === "" ? [] : shimPids(address))];
    if (pids.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`testenv: processes of the real node survive SIGKILL: ${pids.join(" ")}`);
    for (const pid of pids) kill(pid, "SIGKILL");
    await sleep(100);
  }
}

// ---- mounts, namespaces, paths ----------------------------------------------------

function unescapeMount(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Mount points at or below any of the prefixes, deepest first. */
function mountsUnder(prefixes: readonly string[]): string[] {
  const points = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => unescapeMount(l.split(" ")[4] ?? ""));
  const under = points.filter((p) => prefixes.some((pre) => p === pre || p.startsWith(`${pre}/`)));
  return [...new Set(under)].sort((a, b) => b.length - a.length);
}

function unmountAll(prefixes: readonly string[]): void {
  // A mount may be stacked several times (kubelet bind-mounts its root dir onto itself).
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(prefixes);
    if (points.length === 0) return;
    for (const p of points) if (!runQuietly("umount", [p])) runQuietly("umount", ["-l", p]);
  }
}

/** The paths whose mounts belong to the node: its own dir, new network namespaces, new fixed paths. */
function ownedMountPrefixes(state: NodeState | undefined): string[] {
  const prefixes = [nodeDir()];
  if (state === undefined) return prefixes;
  for (const p of FIXED_HOST_PATHS) {
    const before = state.hostPaths[p];
    if (before === null || before === undefined) prefixes.push(p);
    else if (existsSync(p))
      for (const n of readdirSync(p)) if (!before.includes(n)) prefixes.push(join(p, n));
  }
  return prefixes;
}

/** Fixed host paths back to what they held: made by the node, removed; else only new entries. */
function restoreHostPaths(state: NodeState): void {
  for (const p of FIXED_HOST_PATHS) {
    const before = state.hostPaths[p];
    if (before === null || before === undefined) {
      rmSync(p, { recursive: true, force: true });
      continue;
    }
    if (!existsSync(p)) continue;
    for (const n of readdirSync(p))
      if (!before.includes(n)) rmSync(join(p, n), { recursive: true, force: true });
  }
}

// ---- firewall ------------------------------------------------------------------------

export function nftTables(): string[] {
  return run("nft", ["list", "tables"])
    .split("\n")
    .map((l) => l.replace(/^table /, "").trim())
    .filter((l) => l !== "");
}

/** KUBE-* and CNI-* chains in iptables tables that existed before the node (their rules and the jumps to them). */
function removeOwnedChains(tool: "iptables" | "ip6tables"): void {
  for (const table of ["nat", "filter", "mangle", "raw"]) {
    let rules: string[];
    try {
      rules = run(tool, ["-w", "-t", table, "-S"]).split("\n");
    } catch {
      continue;
    }
    const owned = rules
      .filter((l) => l.startsWith("-N "))
      .map((l) => l.slice(3).trim())
      .filter((c) => OWNED_CHAIN.test(c));
    if (owned.length === 0) continue;
    for (const l of rules) {
      const m = /^-A (\S+) (.*) -[jg] (\S+)/.exec(l);
      if (m !== null && !OWNED_CHAIN.test(m[1] ?? "") && OWNED_CHAIN.test(m[3] ?? "")) {
        runQuietly(tool, ["-w", "-t", table, "-D", ...l.slice(3).split(" ")]);
      }
    }
    for (const c of owned) runQuietly(tool, ["-w", "-t", table, "-F", c]);
    for (const c of owned) runQuietly(tool, ["-w", "-t", table, "-X", c]);
  }
}

/**
 * Tables made since the node started go entirely (kube-proxy's, the safety
 * table, and the iptables-nft tables kubelet and the CNI plugins created); in
 * tables that were there before, only the KUBE-/CNI- chains go.
 */
function removeFirewall(state: NodeState | undefined): void {
  for (const t of nftTables()) {
    const made = state !== undefined && !state.nftTables.includes(t);
    if (made || OWNED_TABLE.test(t)) runQuietly("nft", ["delete", "table", ...t.split(" ")]);
  }
  // Without a record, KUBE-/CNI- chains may belong to another Kubernetes on this machine.
  if (state === undefined) return;
  removeOwnedChains("iptables");
  removeOwnedChains("ip6tables");
}

// ---- the whole teardown -----------------------------------------------------------------

/** Stops and removes everything the node made. Safe to run when nothing is left. */
export async function teardownNode(state: NodeState | undefined): Promise<void> {
  if (state !== undefined) await stopGroups(state.groups, Object.keys(state.groups));
  await killContainers(state?.containerdAddress ?? "");
  unmountAll(ownedMountPrefixes(state));
  for (const port of bridgePorts()) runQuietly("ip", ["link", "del", port]);
  removeNodeNetwork();
  removeFirewall(state);
  for (const dir of kubepodsCgroups()) {
    try {
      rmdirSync(dir);
    } catch {
      // Still busy; reported by nodeLeftovers.
    }
  }
  if (state !== undefined) {
    restoreHostPaths(state);
    writeSysctls(state.sysctls);
  }
  rmSync(nodeDir(), { recursive: true, force: true });
}

/** What of the node is still on this machine (empty after a complete teardown). */
export function nodeLeftovers(state: NodeState | undefined): string[] {
  const left: string[] = [];
  if (state !== undefined) {
    for (const [name, pgid] of Object.entries(state.groups))
      if (groupAlive(pgid)) left.push(`process group ${name} (${pgid})`);
    for (const pid of shimPids(state.containerdAddress)) left.push(`containerd shim ${pid}`);
  }
  for (const cg of kubepodsCgroups()) left.push(`cgroup ${cg}`);
  for (const m of mountsUnder([nodeDir(), ...FIXED_HOST_PATHS])) left.push(`mount ${m}`);
  if (runQuietly("ip", ["link", "show", NODE_NETWORK.bridge])) left.push(`bridge ${NODE_NETWORK.bridge}`);
  for (const t of nftTables())
    if (OWNED_TABLE.test(t) || !(state?.nftTables ?? [t]).includes(t)) left.push(`nft table ${t}`);
  const routes = run("ip", ["-4", "route", "show", "table", "all"]);
  if (routes.includes(NODE_NETWORK.serviceCidr)) left.push(`route ${NODE_NETWORK.serviceCidr}`);
  // Without a record nothing says which of the fixed paths the node made.
  for (const p of state === undefined ? [] : FIXED_HOST_PATHS) {
    const before = state?.hostPaths[p];
    if (!existsSync(p)) continue;
    if (before === null || before === undefined) left.push(`path ${p}`);
    else for (const n of readdirSync(p)) if (!before.includes(n)) left.push(`path ${join(p, n)}`);
  }
  if (existsSync(nodeDir())) left.push(`path ${nodeDir()}`);
  return left;
}
