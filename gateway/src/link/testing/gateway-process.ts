import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { FixtureRequest, FixtureStats, LatencySummaryUs } from "./fixture-protocol.ts";

const FIXTURE = fileURLToPath(new URL("./gateway-fixture.ts", import.meta.url));

export interface GatewayProcessOptions {
  gatewayId: string;
  /** Port to listen on; 0 picks one (a restart should pass the previous port). */
  port?: number;
  secret?: string;
  pingIntervalMs?: number;
  deadAfterMs?: number;
  maxFrameBytes?: number;
  tls?: { certFile: string; keyFile: string };
  logLevel?: "debug" | "info" | "warn" | "error";
}

type Req = FixtureRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

/**
 * A gateway-fixture child process. Real process, real signals: kill()
 * (SIGKILL), stop() (SIGSTOP) and cont() (SIGCONT) act on it directly.
 * Every child is SIGKILLed when this process exits, and a child exits by
 * itself when its IPC channel closes.
 */
export class GatewayProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly epoch: string;
  readonly gatewayId: string;
  #nextId = 1;
  readonly #calls = new Map<
    number,
    { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();
  readonly exited: Promise<void>;

  private constructor(child: ChildProcess, ready: { port: number; epoch: string; gatewayId: string }) {
    this.child = child;
    this.port = ready.port;
    this.epoch = ready.epoch;
    this.gatewayId = ready.gatewayId;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.on("message", (raw) => {
      const m = raw as { id: number; ok: boolean; error?: string } & Record<string, unknown>;
      const call = this.#calls.get(m.id);
      if (call === undefined) return;
      this.#calls.delete(m.id);
      if (m.ok) call.resolve(m);
      else call.reject(new Error(`gateway fixture: ${m.error}`));
    });
    child.once("exit", (code, signal) => {
      live.delete(child);
      for (const c of this.#calls.values()) c.reject(new Error(`gateway fixture exited (${code ?? signal})`));
      this.#calls.clear();
    });
  }

  static async start(o: GatewayProcessOptions): Promise<GatewayProcess> {
    const child = fork(FIXTURE, [], {
      env: {
        ...process.env,
        FIXTURE_GATEWAY_ID: o.gatewayId,
        FIXTURE_PORT: String(o.port ?? 0),
        FIXTURE_SECRET: o.secret ?? "",
        FIXTURE_PING_MS: String(o.pingIntervalMs ?? 1000),
        FIXTURE_DEAD_MS: String(o.deadAfterMs ?? 4000),
        FIXTURE_MAX_FRAME_BYTES: o.maxFrameBytes === undefined ? "" : String(o.maxFrameBytes),
        FIXTURE_TLS_CERT: o.tls?.certFile ?? "",
        FIXTURE_TLS_KEY: o.tls?.keyFile ?? "",
        FIXTURE_LOG_LEVEL: o.logLevel ?? "warn",
      },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    live.add(child);
    const ready = await new Promise<{ port: number; epoch: string; gatewayId: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("gateway fixture did not start within 20 s")), 20_000);
      child.once("message", (m) => {
        clearTimeout(timer);
        resolve(m as { port: number; epoch: string; gatewayId: string });
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`gateway fixture exited during start (code ${code})`));
      });
    });
    return new GatewayProcess(child, ready);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  call(req: Req, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(id);
        reject(new Error(`gateway fixture: ${req.cmd} timed out`));
      }, timeoutMs);
      this.#calls.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, ...req });
    });
  }

  async stats(): Promise<FixtureStats> {
    return (await this.call({ cmd: "stats" })).stats as FixtureStats;
  }

  async rooms(...rooms: string[]): Promise<void> {
    await this.call({ cmd: "roomAdded", rooms });
  }

  async waitDeliveries(target: number, timeoutMs = 60_000): Promise<FixtureStats> {
    return (await this.call({ cmd: "waitDeliveries", target }, timeoutMs)).stats as FixtureStats;
  }

  async latencyReport(): Promise<LatencySummaryUs | undefined> {
    const r = await this.call({ cmd: "latencyReport" });
    const h = r.latencyUs as LatencySummaryUs | undefined;
    return h && { ...h, loopDelayMs: r.loopDelayMs as LatencySummaryUs["loopDelayMs"] };
  }

  async metrics(): Promise<string> {
    return (await this.call({ cmd: "metrics" })).text as string;
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }

  pause(): void {
    this.child.kill("SIGSTOP");
  }

  resume(): void {
    this.child.kill("SIGCONT");
  }

  /** Ends the process for sure (SIGCONT then SIGKILL) and waits for it. */
  async dispose(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGCONT");
      this.child.kill("SIGKILL");
    }
    await this.exited;
  }
}
