import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const BIN = new URL("../../../bin/chatcluster", import.meta.url).pathname;
const live = new Set<ChildProcess>();
// A failed test must not leave operators running against the next control plane.
process.on("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export interface OperatorProcess {
  readonly id: string;
  readonly pid: number;
  readonly opsPort: number;
  readonly logPath: string;
  readonly exited: Promise<number | null>;
  metric(name: string): Promise<number | undefined>;
  /** SIGTERM and wait; SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<number | null>;
  logTail(lines?: number): string;
}

/** Spawns `bin/chatcluster operator` and waits for its "operator started" log line. */
export async function spawnOperator(
  kubeconfig: string,
  id: string,
  logDir: string,
  extra: string[] = [],
): Promise<OperatorProcess> {
  const logPath = join(logDir, `operator-${id}.log`);
  const out = createWriteStream(logPath, { flags: "a" });
  const child = spawn(
    BIN,
    [
      "operator",
      `--kubeconfig=${kubeconfig}`,
      `--operator-id=${id}`,
      "--ops-listen=127.0.0.1:0",
      "--lease-namespace=default",
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  live.add(child);
  let text = "";
  child.stdout?.on("data", (b: Buffer) => {
    text += b.toString();
    out.write(b);
  });
  child.stderr?.on("data", (b: Buffer) => out.write(b));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  const tail = (n = 40) => {
    try {
      return readFileSync(logPath, "utf8").trimEnd().split("\n").slice(-n).join("\n");
    } catch {
      return "(no log)";
    }
  };
  const deadline = Date.now() + 60_000;
  let opsPort: number | undefined;
  while (opsPort === undefined) {
    const m = /"opsPort":(\d+).*"msg":"operator started"/.exec(text);
    if (m) opsPort = Number(m[1]);
    else if (child.exitCode !== null)
      throw new Error(`operator ${id} exited with ${child.exitCode}:\n${tail()}`);
    else if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`operator ${id} did not start within 60s:\n${tail()}`);
    } else await sleep(50);
  }
  const port = opsPort;
  return {
    id,
    pid: child.pid ?? -1,
    opsPort: port,
    logPath,
    exited,
    logTail: tail,
    async metric(name) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      const body = await res.text();
      const line = body.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        const code = await exited;
        clearTimeout(timer);
        out.end();
        return code;
      }
      out.end();
      return child.exitCode;
    },
  };
}

/** Thrown from a check to stop waiting at once: a rule was broken, so the awaited state means nothing. */
export class WaitAborted extends Error {
  override readonly name = "WaitAborted";
}

/** Polls until check returns a value other than undefined; the error names what was awaited. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof WaitAborted) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${last}` : ""}`);
    await sleep(200);
  }
}
