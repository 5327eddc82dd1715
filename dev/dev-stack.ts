import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startDevWebServer } from "./dev-web-server.ts";
import { ProcessSupervisor, type SupervisedProcess } from "./process-supervisor.ts";

/**
 * The whole stack on one machine: N gateways and M logic processes of this
 * checkout, static discovery, the embedded SQLite store (or NATS JetStream),
 * and the demo page. Every process is a real `chatcluster` process. The
 * internal link is h2c with the shared secret (`--insecure-internal`), its
 * ports on loopback.
 *
 * Ports, from --base-port B: page B, gateway i client B+10+i, internal B+20+i
 * (on 127.0.0.1 whatever the host), ops B+30+i; logic j server API B+40+j,
 * ops B+50+j; the example hooks service B+60.
 */
export interface DevStackOptions {
  gateways: number;
  logic: number;
  store: "sqlite" | "nats";
  /** NATS URL for store=nats; empty starts a local nats-server. */
  natsUrl: string;
  dataDir: string;
  host: string;
  basePort: number;
  logLevel: string;
  /** Extra flags for every gateway / logic process (benchmarks raise limits). */
  gatewayArgs?: readonly string[];
  logicArgs?: readonly string[];
  /** Gateways' drain window (default 3s: quick Ctrl-C locally). */
  drainWindow?: string;
  /** Node.js flags for every gateway and logic process (benchmarks: --perf-basic-prof). */
  nodeArgs?: readonly string[];
  /** Start the example hooks service (dev/hooks-example.ts) and enable every hook but Connect. */
  hooksExample?: boolean;
  /** More environment for every logic process. */
  logicEnv?: Readonly<Record<string, string>>;
}

export interface DevStack {
  readonly webUrl: string;
  readonly gatewayUrls: readonly string[];
  readonly apiUrls: readonly string[];
  readonly apiKey: string;
  /** The key logic signs principals with; only the logic processes get it. */
  readonly principalKey: string;
  /** The example hooks service's URL, when started. */
  readonly hooksUrl: string | undefined;
  readonly gateways: readonly SupervisedProcess[];
  readonly logic: readonly SupervisedProcess[];
  /** Every process's ops endpoint (/metrics, /readyz), for a Prometheus scrape config. */
  readonly opsTargets: readonly { role: "gateway" | "logic"; name: string; address: string }[];
  /**
   * Resolves when every process answers /readyz. Rejects as soon as a process
   * has exited more than once while waiting (a crash loop, e.g. a port taken
   * by someone else: StackNotReadyError with `crashLoop`), or after timeoutMs.
   */
  ready(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** The CLI beside this module: the TypeScript sources in a checkout, the built JavaScript in dist/. */
const CLI_ENTRY = fileURLToPath(
  new URL(`../cli/main${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url),
);

/** Where the internal ports listen: every process is on this machine, and the link is not encrypted. */
const INTERNAL_HOST = "127.0.0.1";

/** How long processes get to drain and exit on Ctrl-C before they are killed. */
const STOP_GRACE_MS = 8_000;

export async function startDevStack(opts: DevStackOptions, write: (line: string) => void): Promise<DevStack> {
  mkdirSync(opts.dataDir, { recursive: true });
  const jwtSecret = persistentSecret(join(opts.dataDir, "dev-jwt-secret"));
  const apiKey = persistentSecret(join(opts.dataDir, "dev-api-key"));
  const internalSecret = randomBytes(24).toString("hex");
  // New per run: principals are per connection, and connections do not outlive the stack.
  const principalKey = randomBytes(32).toString("hex");
  const supervisor = new ProcessSupervisor(write);
  const node = (role: string, args: string[]) => ({
    command: process.execPath,
    args: [...(opts.nodeArgs ?? []), "--disable-warning=ExperimentalWarning", CLI_ENTRY, role, ...args],
  });
  const stopExtra: (() => Promise<void>)[] = [];

  let natsUrl = opts.natsUrl;
  if (opts.store === "nats" && natsUrl === "") {
    const { startLocalNats } = await import("./local-nats.ts");
    const nats = await startLocalNats(join(opts.dataDir, "nats"), opts.host);
    natsUrl = nats.url;
    stopExtra.push(nats.stop);
    write(`[nats] nats-server with JetStream at ${natsUrl}`);
  }

  const b = opts.basePort;
  const h = opts.host;
  const gatewayUrls: string[] = [];
  const internal: string[] = [];
  const ops: string[] = [];
  const opsTargets: { role: "gateway" | "logic"; name: string; address: string }[] = [];
  const gateways: SupervisedProcess[] = [];
  for (let i = 0; i < opts.gateways; i++) {
    gatewayUrls.push(`ws://${h}:${b + 10 + i}/`);
    internal.push(`gateway-${i}=${INTERNAL_HOST}:${b + 20 + i}`);
    ops.push(`http://${h}:${b + 30 + i}/readyz`);
    opsTargets.push({ role: "gateway", name: `gateway-${i}`, address: `${h}:${b + 30 + i}` });
    gateways.push(
      supervisor.start({
        name: `gateway-${i}`,
        ...node("gateway", [
          `--gateway-id=gateway-${i}`,
          `--client-listen=${h}:${b + 10 + i}`,
          `--internal-listen=${INTERNAL_HOST}:${b + 20 + i}`,
          `--ops-listen=${h}:${b + 30 + i}`,
          // The internal port is on loopback whatever --host says: TLS would protect nothing there.
          `--insecure-internal`,
          `--drain-window=${opts.drainWindow ?? "3s"}`,
          `--log-level=${opts.logLevel}`,
          ...(opts.gatewayArgs ?? []),
        ]),
        // Secrets go through the environment, never the command line (visible in `ps`).
        env: { CHATCLUSTER_INTERNAL_SECRET: internalSecret },
      }),
    );
  }
  const hookArgs: string[] = [];
  let hooksUrl: string | undefined;
  if (opts.hooksExample) {
    const { startHooksExample } = await import("./hooks-example.ts");
    const hooks = await startHooksExample(h, b + 60);
    hooksUrl = hooks.url;
    stopExtra.push(hooks.close);
    hookArgs.push(
      `--hooks-url=${hooks.url}`,
      "--hook-join-rooms=>",
      "--hook-send-rooms=>",
      "--hook-rpc-methods=>",
    );
    write(`[hooks] example hooks service at ${hooks.url} (dev/hooks-example.ts)`);
  }
  const apiUrls: string[] = [];
  const logic: SupervisedProcess[] = [];
  for (let j = 0; j < opts.logic; j++) {
    apiUrls.push(`http://${h}:${b + 40 + j}`);
    ops.push(`http://${h}:${b + 50 + j}/readyz`);
    opsTargets.push({ role: "logic", name: `logic-${j}`, address: `${h}:${b + 50 + j}` });
    const store =
      opts.store === "nats"
        ? ["--store=nats", `--nats-urls=${natsUrl}`]
        : ["--store=sqlite", `--sqlite-data-dir=${join(opts.dataDir, "sqlite")}`];
    logic.push(
      supervisor.start({
        name: `logic-${j}`,
        ...node("logic", [
          `--logic-id=logic-${j}`,
          ...store,
          `--discovery=static`,
          `--discovery-static=${internal.join(",")}`,
          `--insecure-internal`,
          `--api-listen=${h}:${b + 40 + j}`,
          `--ops-listen=${h}:${b + 50 + j}`,
          `--log-level=${opts.logLevel}`,
          ...hookArgs,
          ...(opts.logicArgs ?? []),
        ]),
        env: {
          CHATCLUSTER_JWT_SECRET: jwtSecret,
          CHATCLUSTER_API_KEYS: apiKey,
          CHATCLUSTER_PRINCIPAL_KEY: principalKey,
          CHATCLUSTER_INTERNAL_SECRET: internalSecret,
          ...opts.logicEnv,
        },
      }),
    );
  }

  const web = await startDevWebServer({ host: h, port: b, jwtSecret, gatewayUrls });
  return {
    webUrl: web.url,
    gatewayUrls,
    apiUrls,
    apiKey,
    principalKey,
    hooksUrl,
    gateways,
    logic,
    opsTargets,
    ready: (timeoutMs) => waitReady(ops, [...gateways, ...logic], timeoutMs),
    async stop() {
      await supervisor.stop(STOP_GRACE_MS);
      await web.close();
      for (const stop of stopExtra) await stop();
    },
  };
}

/** A secret kept in the data dir, so tokens and keys stay valid across restarts of the stack. */
function persistentSecret(path: string): string {
  try {
    const s = readFileSync(path, "utf8").trim();
    if (s.length >= 32) return s;
  } catch {
    // First run: create it below.
  }
  const s = randomBytes(32).toString("hex");
  writeFileSync(path, `${s}\n`, { mode: 0o600 });
  return s;
}

/** The stack did not become ready; `crashLoop` names a process that kept exiting instead. */
export class StackNotReadyError extends Error {
  readonly crashLoop: string | undefined;
  constructor(message: string, crashLoop?: string) {
    super(message);
    this.name = "StackNotReadyError";
    this.crashLoop = crashLoop;
  }
}

async function waitReady(
  urls: readonly string[],
  procs: readonly SupervisedProcess[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const startsAtBegin = procs.map((p) => p.starts());
  const pending = new Set(urls);
  while (pending.size > 0) {
    for (const url of [...pending]) {
      const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) pending.delete(url);
    }
    if (pending.size === 0) return;
    // Waiting follows what the processes do, not the clock: one that exits
    // again and again will never be ready, however long we wait.
    const looping = procs.find((p, i) => p.starts() - (startsAtBegin[i] ?? 0) >= 2);
    if (looping !== undefined)
      throw new StackNotReadyError(
        `${looping.spec.name} keeps exiting (see its log lines)`,
        looping.spec.name,
      );
    if (Date.now() > deadline)
      throw new StackNotReadyError(`not ready after ${timeoutMs} ms: ${[...pending].join(", ")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
