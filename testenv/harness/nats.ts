// A real nats-server with JetStream on loopback, storing into its own temp dir.
// restart() brings it back on the same port with the same data.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchNats, safeName } from "./nats-process.ts";
import { binaryPath } from "./paths.ts";
import type { ManagedProcess } from "./proc.ts";
import { freePorts, keepLogs, StartupError } from "./util.ts";

export interface NatsOptions {
  /** Names the temp dir and the artifacts dir (test-artifacts/testenv/<name>/). */
  name?: string;
  /** Startup budget in ms (default 30 000). */
  timeoutMs?: number;
}

export interface NatsServer {
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** HTTP monitoring endpoint, e.g. `${monitorUrl}/jsz`. */
  readonly monitorUrl: string;
  /** JetStream store directory (kept across restart()). */
  readonly storeDir: string;
  /** Holds nats-server.log; copied to test-artifacts on a failed stop. */
  readonly logsDir: string;
  /** Stops the server and removes its data. With { failed: true } logs go to test-artifacts. */
  stop(opts?: { failed?: boolean }): Promise<void>;
  /** Graceful stop (if running), then start again on the same port and store; resolves when healthy. */
  restart(): Promise<void>;
  /** Sends a signal to the server (default SIGKILL); e.g. SIGSTOP/SIGCONT to stall it. */
  kill(signal?: NodeJS.Signals): void;
}

export async function startNats(opts: NatsOptions = {}): Promise<NatsServer> {
  const bin = binaryPath("nats-server");
  const name = opts.name ?? "nats";
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const dir = mkdtempSync(join(tmpdir(), `chatcluster-testenv-${safeName(name)}-`));
  const logsDir = join(dir, "logs");
  const storeDir = join(dir, "jetstream");
  mkdirSync(logsDir, { recursive: true });
  mkdirSync(storeDir, { recursive: true });
  const [port, monitorPort] = (await freePorts(2)) as [number, number];
  const url = `nats://127.0.0.1:${port}`;
  const monitorUrl = `http://127.0.0.1:${monitorPort}`;
  const args = [
    "--name",
    safeName(name),
    "--addr",
    "127.0.0.1",
    "--port",
    String(port),
    "--http_port",
    String(monitorPort),
    "--jetstream",
    "--store_dir",
    storeDir,
  ];

  let proc: ManagedProcess | undefined;
  let stopped = false;

  const launch = async (): Promise<void> => {
    proc = await launchNats({ bin, args, logsDir, monitorUrl, timeoutMs });
  };

  try {
    await launch();
  } catch (err) {
    await proc?.stop();
    const dest = keepLogs(logsDir, name);
    rmSync(dir, { recursive: true, force: true });
    const msg = err instanceof Error ? err.message : String(err);
    throw new StartupError(`${msg}\ntestenv: nats-server logs kept in ${dest}`);
  }

  return {
    url,
    port,
    monitorUrl,
    storeDir,
    logsDir,
    async stop(stopOpts: { failed?: boolean } = {}): Promise<void> {
      if (stopped) return;
      stopped = true;
      await proc?.stop();
      if (stopOpts.failed === true) {
        const dest = keepLogs(logsDir, name);
        console.error(`testenv: nats-server logs for ${name} kept in ${dest}`);
      }
      if (process.env.CHATCLUSTER_TESTENV_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
    },
    async restart(): Promise<void> {
      if (stopped) throw new Error("testenv: restart() after stop()");
      await proc?.stop();
      await launch();
    },
    kill(signal: NodeJS.Signals = "SIGKILL"): void {
      proc?.signal(signal);
    },
  };
}
