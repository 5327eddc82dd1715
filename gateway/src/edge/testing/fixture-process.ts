import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { EdgeLimits } from "../edge-limits.ts";

const FIXTURE = fileURLToPath(new URL("./edge-fixture.ts", import.meta.url));

/** TEST AND BENCHMARK ONLY: the parent side of edge-fixture.ts. */
export class FixtureProcess {
  readonly child: ChildProcess;
  port = 0;
  private nextId = 1;
  private readonly waiting = new Map<number, (msg: Record<string, unknown>) => void>();

  private constructor(child: ChildProcess) {
    this.child = child;
    child.on("message", (raw) => {
      const msg = raw as Record<string, unknown>;
      const w = this.waiting.get(msg.id as number);
      if (w) {
        this.waiting.delete(msg.id as number);
        w(msg);
      }
    });
  }

  static async start(
    limits: Partial<EdgeLimits>,
    opts: { host?: string; execArgv?: string[]; drainOnSigterm?: { windowMs: number; graceMs: number } } = {},
  ): Promise<FixtureProcess> {
    const args = [JSON.stringify(limits), opts.host ?? "127.0.0.1"];
    if (opts.drainOnSigterm) args.push(JSON.stringify(opts.drainOnSigterm));
    const child = fork(FIXTURE, args, {
      execArgv: opts.execArgv ?? [],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const fp = new FixtureProcess(child);
    fp.port = await new Promise<number>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`edge fixture exited with ${code}`)));
      child.on("message", (m) => {
        const msg = m as { op: string; port: number };
        if (msg.op === "ready") resolve(msg.port);
      });
    });
    return fp;
  }

  call(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.send({ ...cmd, id });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGKILL");
    await exited;
  }
}
