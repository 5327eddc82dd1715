// The real node's network and the rules that keep its traffic on this machine.
//
//   chatcluster0      a Linux bridge with 10.244.0.1/24: the node IP, the pods'
//                     gateway, where kube-apiserver and CoreDNS listen
//   10.244.0.0/24     pods (bridge + host-local CNI), one veth each
//   10.96.0.0/16      Services; routed into the bridge, never to the default route
//   inet chatcluster-node (nftables)
//                     forward: drop what crosses between the bridge and any other
//                     interface; output and forward: reject a Service address that
//                     kube-proxy did not translate to a pod
//
// Before anything is created, the harness refuses to start when either range
// overlaps an address or a route of this machine. Every change is undone by
// removeNodeNetwork (also after a crash, from the recorded state).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

export const NODE_NETWORK = Object.freeze({
  bridge: "chatcluster0",
  /** The bridge's address: node IP, pods' gateway, kube-apiserver and CoreDNS. */
  nodeIp: "10.244.0.1",
  podCidr: "10.244.0.0/24",
  serviceCidr: "10.96.0.0/16",
  /** kube-apiserver's ClusterIP in serviceCidr (the first address). */
  kubernetesServiceIp: "10.96.0.1",
  nftTable: "chatcluster-node",
});

/** Thrown when the node cannot start safely; the message says what to do. */
export class NodeNetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NodeNetworkError";
  }
}

export function run(cmd: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(cmd, args, {
      encoding: "utf8",
      input,
      stdio: ["pipe", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") throw new NodeNetworkError(`${cmd} not found: run \`make system-packages\``);
    throw new NodeNetworkError(`${cmd} ${args.join(" ")} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** Runs a command whose failure only means "already gone". */
export function runQuietly(cmd: string, args: readonly string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// ---- CIDR arithmetic (IPv4) ----------------------------------------------------

interface Range {
  first: number;
  last: number;
}

function ipv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    const v = Number(p);
    if (!/^\d+$/.test(p) || v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

/** The addresses of "a.b.c.d/n" (or a single address); undefined for anything else (IPv6, "default"). */
export function cidrRange(cidr: string): Range | undefined {
  const [addr, bits] = cidr.split("/");
  const base = ipv4(addr ?? "");
  const n = bits === undefined ? 32 : Number(bits);
  if (base === undefined || !Number.isInteger(n) || n < 0 || n > 32) return undefined;
  const size = 2 ** (32 - n);
  const first = base - (base % size);
  return { first, last: first + size - 1 };
}

export function overlaps(a: string, b: string): boolean {
  const x = cidrRange(a);
  const y = cidrRange(b);
  return x !== undefined && y !== undefined && x.first <= y.last && y.first <= x.last;
}

/**
 * What on this machine overlaps the node's ranges: interface addresses (as
 * networks) and routes of every table, except default routes and what belongs
 * to the node's own bridge.
 */
export function overlappingNetworks(): string[] {
  const found: string[] = [];
  const ranges = [NODE_NETWORK.podCidr, NODE_NETWORK.serviceCidr];
  const addrs = JSON.parse(run("ip", ["-j", "-4", "addr", "show"])) as {
    ifname: string;
    addr_info?: { local: string; prefixlen: number }[];
  }[];
  for (const link of addrs) {
    for (const a of link.addr_info ?? []) {
      const net = `${a.local}/${a.prefixlen}`;
      for (const r of ranges)
        if (overlaps(net, r)) found.push(`address ${net} on ${link.ifname} overlaps ${r}`);
    }
  }
  const routes = JSON.parse(run("ip", ["-j", "-4", "route", "show", "table", "all"])) as {
    dst: string;
    dev?: string;
    table?: string;
    type?: string;
  }[];
  for (const route of routes) {
    if (route.dst === "default") continue;
    for (const r of ranges) {
      if (overlaps(route.dst, r)) {
        found.push(
          `route ${route.type ?? ""} ${route.dst} dev ${route.dev ?? "-"} table ${route.table ?? "main"} overlaps ${r}`,
        );
      }
    }
  }
  return found;
}

// ---- sysctls -----------------------------------------------------------------------

/**
 * Kernel settings the node changes: forwarding for the bridge, bridged traffic
 * through netfilter (kube-proxy's rules must see pod-to-pod Service traffic),
 * and the ones kubelet sets to its own defaults at start (it does not put them back).
 */
export const TOUCHED_SYSCTLS = [
  "net/ipv4/ip_forward",
  "net/bridge/bridge-nf-call-iptables",
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
] as const;

export function readSysctls(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of TOUCHED_SYSCTLS) {
    try {
      out[key] = readFileSync(`/proc/sys/${key}`, "utf8").trim();
    } catch {
      // Not present on this kernel (e.g. no br_netfilter): nothing to restore.
    }
  }
  return out;
}

export function writeSysctls(values: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(values)) {
    try {
      writeFileSync(`/proc/sys/${key}`, `${value}\n`);
    } catch {
      // A setting that cannot be written back was never changed by the node either.
    }
  }
}

// ---- bridge, route, rules ----------------------------------------------------------

function safetyRuleset(): string {
  const n = NODE_NETWORK;
  // Priority: forward before any other filter; output after NAT (-100), so a
  // Service address kube-proxy translated to a pod is already the pod's address,
  // and before kube-proxy's own filter (0).
  return `table inet ${n.nftTable} {
  chain forward {
    type filter hook forward priority -200; policy accept;
    iifname "${n.bridge}" oifname != "${n.bridge}" counter drop comment "pod traffic never leaves this machine"
    oifname "${n.bridge}" iifname != "${n.bridge}" counter drop comment "no other interface reaches the pods"
    ip daddr ${n.serviceCidr} counter reject comment "a pod sent to a Service address without endpoints"
  }
  chain output {
    type filter hook output priority -50; policy accept;
    ip daddr ${n.serviceCidr} counter reject comment "this machine sent to a Service address without endpoints"
  }
}
`;
}

/** Creates the bridge, the Service route and the safety rules (after checking for overlaps). */
export function createNodeNetwork(): void {
  const n = NODE_NETWORK;
  const overlapping = overlappingNetworks();
  if (overlapping.length > 0) {
    throw new NodeNetworkError(
      `the real node's networks overlap this machine's; refusing to start:\n  ${overlapping.join("\n  ")}\n` +
        "(a leftover of an earlier run goes away with `make cluster-down`)",
    );
  }
  run("nft", ["-f", "-"], safetyRuleset());
  run("ip", ["link", "add", n.bridge, "type", "bridge"]);
  run("ip", ["addr", "add", `${n.nodeIp}/${n.podCidr.split("/")[1]}`, "dev", n.bridge]);
  run("ip", ["link", "set", n.bridge, "up"]);
  run("ip", ["route", "add", n.serviceCidr, "dev", n.bridge, "src", n.nodeIp]);
  writeSysctls({ "net/ipv4/ip_forward": "1", "net/bridge/bridge-nf-call-iptables": "1" });
}

/** Undoes createNodeNetwork; each step tolerates what is already gone. */
export function removeNodeNetwork(): void {
  const n = NODE_NETWORK;
  runQuietly("ip", ["route", "del", n.serviceCidr, "dev", n.bridge]);
  runQuietly("ip", ["link", "del", n.bridge]);
  runQuietly("nft", ["delete", "table", "inet", n.nftTable]);
}

/** The pod-side veths still attached to the bridge (their peers live in pod namespaces). */
export function bridgePorts(): string[] {
  try {
    const links = JSON.parse(run("ip", ["-j", "link", "show", "master", NODE_NETWORK.bridge])) as {
      ifname: string;
    }[];
    return links.map((l) => l.ifname);
  } catch {
    return [];
  }
}
