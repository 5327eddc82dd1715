import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DevStack } from "../dev/dev-stack.ts";
import { signDevToken } from "../dev/dev-token.ts";
import { startLoopbackStack } from "../dev/loopback-stack.ts";
import type { SupervisedProcess } from "../dev/process-supervisor.ts";
import { until } from "./load-driver.ts";

/** The dev stack (real gateway and logic processes) plus what the scenarios need to hurt it. */
export interface ReliabilityStack {
  readonly stack: DevStack;
  readonly dataDir: string;
  readonly jwtSecret: string;
  /** The gateways' shared internal secret, read back from the processes' environment. */
  readonly internalSecret: string;
  /** Every line the processes wrote to stdout/stderr. */
  readonly output: string[];
  token(user: string): Promise<string>;
  /** Resolves when the process answers /readyz on its ops port. */
  waitReady(role: "gateway" | "logic", index: number, timeoutMs?: number): Promise<void>;
  /** Sends a signal, waits for the supervisor to start it again and for it to be ready. */
  bounce(role: "gateway" | "logic", index: number, signal: NodeJS.Signals): Promise<void>;
  /**
   * Which of the stack's secrets (JWT secret, API key, internal secret) and of
   * `extra` (tokens; for a JWT also its signature alone) appear in the output.
   */
  leaks(extra?: Iterable<string>): string[];
  /** Resident set size of a process in bytes (from /proc). */
  rss(role: "gateway" | "logic", index: number): number;
  stop(): Promise<void>;
}

export async function startReliabilityStack(opts: {
  store?: "sqlite" | "nats";
  /** NATS URL(s), comma-separated (every node of a cluster). */
  natsUrl?: string;
  logLevel?: string;
  /** More `chatcluster logic` flags (e.g. `--nats-replicas=3`). */
  logicArgs?: readonly string[];
}): Promise<ReliabilityStack> {
  const dataDir = await mkdtemp(join(tmpdir(), "cc-reliability-"));
  const output: string[] = [];
  let stack: DevStack;
  try {
    stack = await startLoopbackStack(
      {
        dataDir,
        store: opts.store ?? "sqlite",
        natsUrl: opts.natsUrl ?? "",
        logLevel: opts.logLevel ?? "info",
        logicArgs: opts.logicArgs ?? [],
      },
      (line) => output.push(line),
    );
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const jwtSecret = readFileSync(join(dataDir, "dev-jwt-secret"), "utf8").trim();
  const internalSecret = stack.gateways[0]?.spec.env?.CHATCLUSTER_INTERNAL_SECRET ?? "";
  const proc = (role: "gateway" | "logic", index: number): SupervisedProcess => {
    const p = (role === "gateway" ? stack.gateways : stack.logic)[index];
    if (p === undefined) throw new Error(`no ${role} ${index}`);
    return p;
  };
  const opsUrl = (role: "gateway" | "logic", index: number): string => {
    const t = stack.opsTargets.find((x) => x.role === role && x.name === `${role}-${index}`);
    if (t === undefined) throw new Error(`no ops target for ${role}-${index}`);
    return `http://${t.address}/readyz`;
  };
  // Timeouts here are backstops for a busy machine; the waits end on the event.
  const waitReady = async (role: "gateway" | "logic", index: number, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ok = await fetch(opsUrl(role, index), { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`${role}-${index} not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return {
    stack,
    dataDir,
    jwtSecret,
    internalSecret,
    output,
    token: (user) => signDevToken(jwtSecret, user),
    waitReady,
    async bounce(role, index, signal) {
      const p = proc(role, index);
      const pid = p.pid();
      const starts = p.starts();
      if (pid === undefined) throw new Error(`${role}-${index} is not running`);
      process.kill(pid, signal);
      await until(`${role}-${index} restarted`, () => p.starts() > starts && p.pid() !== undefined, 120_000);
      await waitReady(role, index);
    },
    leaks(extra = []) {
      const text = output.join("\n");
      const found: string[] = [];
      const named: [string, string][] = [
        ["JWT secret", jwtSecret],
        ["API key", stack.apiKey],
        ["internal secret", internalSecret],
        ["principal key", stack.principalKey],
        ...[...extra].map((t, i): [string, string] => [`token ${i}`, t]),
      ];
      for (const [name, value] of named) {
        const parts = [value];
        if (value.split(".").length === 3) parts.push(value.split(".")[2] as string);
        if (parts.some((p) => p.length >= 16 && text.includes(p))) found.push(name);
      }
      return found;
    },
    rss(role, index) {
      const pid = proc(role, index).pid();
      if (pid === undefined) throw new Error(`${role}-${index} is not running`);
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      return Number(m?.[1] ?? 0) * 1024;
    },
    async stop() {
      await stack.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
