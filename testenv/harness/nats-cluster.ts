// A real 3-node nats-server cluster on loopback: routes between the nodes,
// JetStream on each with its own store directory. Nodes can be stopped,
// killed, paused (SIGSTOP) and started again on the same ports and data; the
// cluster answers which node leads a stream through the JetStream API.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type JetStreamManager, jetstreamManager, type StreamInfo } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { launchNats, safeName } from "./nats-process.ts";
import { binaryPath } from "./paths.ts";
import type { ManagedProcess } from "./proc.ts";
import { freePorts, keepLogs, StartupError, waitFor } from "./util.ts";

export interface NatsClusterOptions {
  /** Names the temp dir, the cluster and the artifacts dir (test-artifacts/testenv/<name>/). Default "nats-cluster". */
  name?: string;
  /** Nodes (default 3). */
  size?: number;
  /** Startup budget of each node in ms (default 30 000). */
  timeoutMs?: number;
}

export interface NatsNode {
  readonly index: number;
  /** The node's server_name: what the JetStream API calls it (`<cluster>-n<index>`). */
  readonly serverName: string;
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** HTTP monitoring endpoint, e.g. `${monitorUrl}/jsz`. */
  readonly monitorUrl: string;
  /** This node's JetStream store (kept across stop/start). */
  readonly storeDir: string;
  /** True from a successful start() until stop() or until the process died (e.g. kill()). A paused node is running. */
  readonly running: boolean;
  /** True between pause() and resume(). */
  readonly paused: boolean;
  /** Starts the node (again) on the same ports and store; resolves when it is healthy (JetStream current). */
  start(): Promise<void>;
  /** Graceful stop (SIGTERM), keeping the store. */
  stop(): Promise<void>;
  /** stop(), then start(). */
  restart(): Promise<void>;
  /** Sends a signal (default SIGKILL); after SIGKILL the node is down until start(). */
  kill(signal?: NodeJS.Signals): void;
  /** SIGSTOP: the process stays, answers nothing (a stalled VM, a GC pause, a partition). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
}

export interface NatsCluster {
  readonly name: string;
  readonly nodes: readonly NatsNode[];
  /** Every node's client URL, in node order: what a client connects with. */
  readonly urls: readonly string[];
  node(serverName: string): NatsNode;
  /** The stream's info from the JetStream API (asked through whichever node answers). */
  streamInfo(stream: string): Promise<StreamInfo>;
  /** The node currently leading the stream; waits (up to timeoutMs, default 30 s) while none does. */
  streamLeader(stream: string, timeoutMs?: number): Promise<NatsNode>;
  /**
   * Waits until the stream has a leader and every replica is current and
   * online (a restarted node has caught up): the point where one more node
   * may go without losing quorum.
   */
  waitStreamCurrent(stream: string, timeoutMs?: number): Promise<StreamInfo>;
  /** Stops every node and removes the data. With { failed: true } logs go to test-artifacts. */
  stop(opts?: { failed?: boolean }): Promise<void>;
}

/** Short ping so a request through a paused node fails over in about a second, not minutes. */
const PROBE_PING_MS = 500;
/** Per request; generous, because the test process may be busy driving load. */
const PROBE_TIMEOUT_MS = 5000;

export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  const bin = binaryPath("nats-server");
  const name = safeName(opts.name ?? "nats-cluster");
  const size = opts.size ?? 3;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const dir = mkdtempSync(join(tmpdir(), `chatcluster-testenv-${name}-`));
  const ports = await freePorts(3 * size);
  const routes = Array.from({ length: size }, (_, i) => `nats://127.0.0.1:${ports[3 * i + 2]}`).join(",");
  const nodes = Array.from({ length: size }, (_, i) =>
    createNode({
      bin,
      index: i,
      cluster: name,
      dir: join(dir, `n${i}`),
      port: ports[3 * i] as number,
      monitorPort: ports[3 * i + 1] as number,
      clusterPort: ports[3 * i + 2] as number,
      routes,
      timeoutMs,
    }),
  );
  const keepAllLogs = (): string =>
    nodes.map((_, i) => keepLogs(join(dir, `n${i}`, "logs"), `${name}-n${i}`)).join(", ");
  try {
    // Together: a node is healthy only once a meta leader exists, which takes a quorum.
    await Promise.all(nodes.map((n) => n.start()));
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    const dest = keepAllLogs();
    rmSync(dir, { recursive: true, force: true });
    const msg = err instanceof Error ? err.message : String(err);
    throw new StartupError(`${msg}\ntestenv: nats cluster logs kept in ${dest}`);
  }

  let probe: Promise<NatsConnection> | undefined;
  let manager: Promise<JetStreamManager> | undefined;
  const jsm = (): Promise<JetStreamManager> => {
    probe ??= connect({
      servers: nodes.map((n) => n.url),
      name: `testenv-${name}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
      pingInterval: PROBE_PING_MS,
      maxPingOut: 2,
      timeout: 5000,
    });
    // No API check: it would cost a round trip, and fail while an election runs.
    manager ??= probe.then((nc) => jetstreamManager(nc, { timeout: PROBE_TIMEOUT_MS, checkAPI: false }));
    return manager;
  };
  const streamInfo = async (stream: string): Promise<StreamInfo> => (await jsm()).streams.info(stream);
  const byName = (serverName: string): NatsNode => {
    const n = nodes.find((x) => x.serverName === serverName);
    if (n === undefined) throw new Error(`testenv: no node named ${serverName} in ${name}`);
    return n;
  };
  let stopped = false;

  return {
    name,
    nodes,
    urls: nodes.map((n) => n.url),
    node: byName,
    streamInfo,
    streamLeader: (stream, waitMs = 30_000) =>
      waitFor(
        `a leader of stream ${stream}`,
        async () => {
          const leader = (await streamInfo(stream)).cluster?.leader;
          return leader ? byName(leader) : undefined;
        },
        { timeoutMs: waitMs, intervalMs: 100 },
      ),
    waitStreamCurrent: (stream, waitMs = 60_000) =>
      waitFor(
        `every replica of stream ${stream} current`,
        async () => {
          // Throws while there is no leader (503) or the request met a node on its
          // way down; waitFor asks again.
          const info = await streamInfo(stream);
          const c = info.cluster;
          if (!c?.leader) return undefined;
          const peers = c.replicas ?? [];
          if (peers.length + 1 < info.config.num_replicas) return undefined;
          return peers.every((p) => p.current && !p.offline) ? info : undefined;
        },
        { timeoutMs: waitMs, intervalMs: 200 },
      ),
    async stop(stopOpts: { failed?: boolean } = {}): Promise<void> {
      if (stopped) return;
      stopped = true;
      const nc = await probe?.catch(() => undefined);
      await nc?.close().catch(() => {});
      await Promise.all(nodes.map((n) => n.stop()));
      if (stopOpts.failed === true) {
        console.error(`testenv: nats cluster logs for ${name} kept in ${keepAllLogs()}`);
      }
      if (process.env.CHATCLUSTER_TESTENV_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface NodeSpec {
  readonly bin: string;
  readonly index: number;
  readonly cluster: string;
  readonly dir: string;
  readonly port: number;
  readonly monitorPort: number;
  readonly clusterPort: number;
  /** Every node's route URL, this one's included (nats-server skips a route to itself). */
  readonly routes: string;
  readonly timeoutMs: number;
}

function createNode(s: NodeSpec): NatsNode {
  const serverName = `${s.cluster}-n${s.index}`;
  const logsDir = join(s.dir, "logs");
  const storeDir = join(s.dir, "jetstream");
  mkdirSync(logsDir, { recursive: true });
  mkdirSync(storeDir, { recursive: true });
  const monitorUrl = `http://127.0.0.1:${s.monitorPort}`;
  const args = [
    "--server_name",
    serverName,
    "--addr",
    "127.0.0.1",
    "--port",
    String(s.port),
    "--http_port",
    String(s.monitorPort),
    "--cluster_name",
    s.cluster,
    "--cluster",
    `nats://127.0.0.1:${s.clusterPort}`,
    "--routes",
    s.routes,
    "--jetstream",
    "--store_dir",
    storeDir,
  ];
  let proc: ManagedProcess | undefined;
  let paused = false;
  const node: NatsNode = {
    index: s.index,
    serverName,
    url: `nats://127.0.0.1:${s.port}`,
    port: s.port,
    monitorUrl,
    storeDir,
    get running() {
      return proc?.running === true;
    },
    get paused() {
      return paused;
    },
    async start() {
      if (proc !== undefined) {
        // Just killed: give the exit a moment to be reaped before the ports are reused.
        const exited = await Promise.race([proc.exited.then(() => true), sleep(2000).then(() => false)]);
        if (!exited) throw new Error(`testenv: ${serverName} is already running`);
        await proc.stop();
      }
      paused = false;
      proc = await launchNats({ bin: s.bin, args, logsDir, monitorUrl, timeoutMs: s.timeoutMs });
    },
    async stop() {
      paused = false;
      await proc?.stop();
    },
    async restart() {
      await node.stop();
      await node.start();
    },
    kill(signal: NodeJS.Signals = "SIGKILL") {
      proc?.signal(signal);
    },
    pause() {
      proc?.signal("SIGSTOP");
      paused = true;
    },
    resume() {
      proc?.signal("SIGCONT");
      paused = false;
    },
  };
  return node;
}
