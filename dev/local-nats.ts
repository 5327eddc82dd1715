import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { connect, createServer } from "node:net";
import { binaryPath } from "../testenv/harness/paths.ts";

/**
 * A nats-server with JetStream for `make dev STORE=nats`, from the binary the
 * test environment builds (`make testenv`), storing under dataDir.
 */
export async function startLocalNats(
  dataDir: string,
  host: string,
): Promise<{ url: string; stop(): Promise<void> }> {
  // Throws "nats-server not found in <dir>: run `make testenv`" when it was never built.
  const bin = binaryPath("nats-server");
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort(host);
  const child = spawn(bin, ["-js", "-a", host, "-p", String(port), "-sd", dataDir], { stdio: "ignore" });
  const url = `nats://${host}:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with code ${child.exitCode}`);
    if (await accepts(host, port)) break;
    if (Date.now() > deadline) throw new Error("nats-server did not start within 15 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
