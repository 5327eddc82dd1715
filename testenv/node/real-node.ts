// A real Kubernetes node on this machine: the control plane (with kube-apiserver
// on the node's bridge, reachable from pods through the `kubernetes` Service),
// containerd, a bridge CNI network, kubelet, kube-proxy and CoreDNS. Pods run
// for real, from images imported from OCI archives (no registry).
//
// One per machine: kubelet's port and several host paths are machine-wide. A
// second start while the first owner lives is refused; a start after an owner
// died first removes what it left. See docs/testenv.md.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { CoreV1Api, DiscoveryV1Api } from "@kubernetes/client-node";
import { type ControlPlane, startControlPlane } from "../harness/controlplane.ts";
import { shareDir } from "../harness/paths.ts";
import { freePorts, keepLogs, request, StartupError, waitFor } from "../harness/util.ts";
import { type Containerd, startContainerd } from "./containerd.ts";
import { startCoredns } from "./coredns.ts";
import { startKubeProxy } from "./kube-proxy.ts";
import { KUBELET_PORT, NODE_NAME, startKubelet, writeCniConfig } from "./kubelet.ts";
import { createNodeNetwork, NODE_NETWORK, readSysctls, runQuietly } from "./network.ts";
import {
  type NodeState,
  nodeDir,
  processAlive,
  readNodeState,
  snapshotHostPaths,
  writeNodeState,
} from "./node-state.ts";
import { nftTables, nodeLeftovers, teardownNode } from "./teardown.ts";

export interface RealNodeOptions {
  /** Names the artifacts dir (test-artifacts/testenv/<name>/) that keeps the logs of a failed run. */
  name?: string;
  /** OCI image archives to import besides the pause and nats-server images. */
  images?: readonly string[];
  /** Startup budget in ms (default 180 000). */
  timeoutMs?: number;
}

export interface RealNode {
  readonly controlPlane: ControlPlane;
  readonly nodeName: string;
  /** References of the images built with the testenv (`ctr images import`ed). */
  readonly images: { readonly pause: string; readonly nats: string };
  readonly logsDir: string;
  /** Milliseconds from start to a Ready node with DNS and Service routing. */
  readonly startupMs: number;
  readonly containerd: Containerd;
  /** Stops everything and removes what the node made; with { failed: true } logs go to test-artifacts. */
  stop(opts?: { failed?: boolean }): Promise<void>;
}

/** Commands the node runs or drives, and the package that provides each. */
const REQUIRED = [
  ["containerd", "containerd"],
  ["ctr", "containerd"],
  ["runc", "runc"],
  ["nft", "nftables"],
  ["iptables", "iptables"],
  ["/usr/lib/cni/bridge", "containernetworking-plugins"],
] as const;

function checkMachine(): void {
  if (process.getuid?.() !== 0) {
    throw new StartupError("testenv: the real node needs root (containerd, network namespaces, mounts)");
  }
  const missing = REQUIRED.filter(([cmd]) =>
    cmd.startsWith("/") ? !existsSync(cmd) : !runQuietly("sh", ["-c", `command -v ${cmd}`]),
  ).map(([cmd, pkg]) => `${cmd} (${pkg})`);
  if (missing.length > 0) {
    throw new StartupError(`testenv: missing ${missing.join(", ")}: run \`make system-packages\``);
  }
}

/**
 * kubelet's port is the same for every node, and a kubelet usually listens on
 * every address: binding it on loopback fails exactly when one does.
 */
async function checkKubeletPortFree(): Promise<void> {
  const server = createServer();
  const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    server.once("error", resolve);
    server.listen({ port: KUBELET_PORT, host: "127.0.0.1", exclusive: true }, () => resolve(undefined));
  });
  await new Promise((resolve) => server.close(resolve));
  if (error !== undefined) {
    throw new StartupError(
      `testenv: port ${KUBELET_PORT} is taken (${error.code}): another kubelet runs on this machine; one node per machine`,
    );
  }
}

/** Takes the node over from an owner that died; refuses while one lives. */
async function claimNode(): Promise<void> {
  const previous = readNodeState();
  if (previous !== undefined && previous.owner !== process.pid && processAlive(previous.owner)) {
    throw new StartupError(
      `testenv: the real node is in use by pid ${previous.owner} (one per machine; tests that use it run ` +
        "one after another, and `make cluster-down` stops one started by `make cluster-up NODE=real`)",
    );
  }
  if (previous !== undefined || existsSync(nodeDir())) {
    await teardownNode(previous);
    const left = nodeLeftovers(previous);
    if (left.length > 0)
      throw new StartupError(`testenv: an earlier real node left:\n  ${left.join("\n  ")}`);
  }
}

function imageRef(file: string): string {
  const path = join(shareDir(), file);
  if (!existsSync(path)) throw new StartupError(`testenv: ${path} not found: run \`make testenv\``);
  return readFileSync(path, "utf8").trim();
}

/** Starts the node; see RealNodeOptions. */
export async function startRealNode(opts: RealNodeOptions = {}): Promise<RealNode> {
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const remaining = () => Math.max(1000, timeoutMs - (Date.now() - started));
  const name = opts.name ?? "real-node";
  checkMachine();
  const images = { pause: imageRef("pause.image"), nats: imageRef("nats-server.image") };
  await claimNode();
  await checkKubeletPortFree();

  const dir = nodeDir();
  const logsDir = join(dir, "logs");
  mkdirSync(logsDir, { recursive: true });
  const state: NodeState = {
    owner: process.pid,
    startedAt: new Date().toISOString(),
    groups: {},
    sysctls: readSysctls(),
    hostPaths: snapshotHostPaths(),
    nftTables: nftTables(),
    containerdAddress: join(dir, "containerd", "containerd.sock"),
  };
  writeNodeState(state);
  const record = (procName: string, pgid: number) => {
    state.groups[procName] = pgid;
    writeNodeState(state);
  };

  let cp: ControlPlane | undefined;
  const fail = async (err: unknown): Promise<never> => {
    const dest = keepLogs(logsDir, name);
    await teardownNode(state);
    await cp?.stop();
    const msg = err instanceof Error ? err.message : String(err);
    throw new StartupError(`${msg}\ntestenv: real node logs kept in ${dest}`);
  };

  try {
    createNodeNetwork();
    cp = await startControlPlane({
      name,
      controllers: true,
      address: NODE_NETWORK.nodeIp,
      dir: join(dir, "control-plane"),
      timeoutMs: remaining(),
    });
    for (const [procName, pgid] of Object.entries(cp.pids)) record(procName, pgid);
    const pki = join(cp.dir, "pki");
    const [kubeletHealthz, proxyHealthz, proxyMetrics, dnsReady] = (await freePorts(4)) as [
      number,
      number,
      number,
      number,
    ];

    const cniConfDir = join(dir, "cni", "net.d");
    writeCniConfig(cniConfDir, join(dir, "cni", "ipam"));
    const containerd = await startContainerd({
      dir: join(dir, "containerd"),
      logsDir,
      sandboxImage: images.pause,
      cniConfDir,
      timeoutMs: remaining(),
    });
    record("containerd", containerd.process.pid);
    for (const archive of [
      join(shareDir(), "pause.oci.tar"),
      join(shareDir(), "nats-server.oci.tar"),
      ...(opts.images ?? []),
    ]) {
      await containerd.importImage(archive);
    }

    const kubelet = startKubelet({
      dir: join(dir, "kubelet"),
      logsDir,
      kubeconfigPath: cp.kubeconfigPath,
      caCert: join(pki, "ca.crt"),
      containerdAddress: containerd.address,
      healthzPort: kubeletHealthz,
    });
    record("kubelet", kubelet.pid);
    const proxy = startKubeProxy({
      dir,
      logsDir,
      kubeconfigPath: cp.kubeconfigPath,
      healthzPort: proxyHealthz,
      metricsPort: proxyMetrics,
    });
    record("kube-proxy", proxy.pid);
    const dns = startCoredns({ dir, logsDir, kubeconfigPath: cp.kubeconfigPath, readyPort: dnsReady });
    record("coredns", dns.pid);
    const watch = [containerd.process, kubelet, proxy, dns];

    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await waitFor(
      `node ${NODE_NAME} Ready without taints`,
      async () => {
        const node = await core.readNode({ name: NODE_NAME });
        const ready =
          node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
        return ready && (node.spec?.taints ?? []).length === 0 ? true : undefined;
      },
      { timeoutMs: remaining(), intervalMs: 250, watch },
    );
    const discovery = cp.kubeConfig.makeApiClient(DiscoveryV1Api);
    await waitFor(
      "the kubernetes Service's endpoint on the node's bridge",
      async () => {
        const slices = await discovery.listNamespacedEndpointSlice({
          namespace: "default",
          labelSelector: "kubernetes.io/service-name=kubernetes",
        });
        const addrs = slices.items.flatMap((s) => (s.endpoints ?? []).flatMap((e) => e.addresses));
        return addrs.includes(NODE_NETWORK.nodeIp) ? true : undefined;
      },
      { timeoutMs: remaining(), intervalMs: 250, watch },
    );
    for (const [what, url] of [
      ["kube-proxy /healthz", `http://127.0.0.1:${proxyHealthz}/healthz`],
      ["CoreDNS /ready", `http://127.0.0.1:${dnsReady}/ready`],
    ] as const) {
      await waitFor(what, async () => ((await request(url)).status === 200 ? true : undefined), {
        timeoutMs: remaining(),
        intervalMs: 200,
        watch,
      });
    }

    const controlPlane = cp;
    let stopped = false;
    return {
      controlPlane,
      nodeName: NODE_NAME,
      images,
      logsDir,
      startupMs: Date.now() - started,
      containerd,
      async stop(stopOpts: { failed?: boolean } = {}) {
        if (stopped) return;
        stopped = true;
        if (stopOpts.failed === true) {
          const dest = keepLogs(logsDir, name);
          console.error(`testenv: real node logs for ${name} kept in ${dest}`);
        }
        await teardownNode(state);
        await controlPlane.stop();
      },
    };
  } catch (err) {
    return fail(err);
  }
}
