// The system bench-scale runs: G gateways, 2 logic processes and a nats-server
// with JetStream (the store several logic processes share), all real processes
// on loopback, with limits raised for the connection count.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DevStack } from "../../dev/dev-stack.ts";
import { startLoopbackStack } from "../../dev/loopback-stack.ts";
import { type NatsServer, startNats } from "../../testenv/harness/index.ts";
import { pidsMatching } from "../load/process-cpu.ts";

export interface ScaleSystem {
  readonly stack: DevStack;
  readonly nats: NatsServer;
  readonly jwtSecret: string;
  readonly gateways: { host: string; port: number }[];
  /** Every process's current pid, by name (gateway-i, logic-j, nats-server). */
  pids(): Map<string, number>;
  /** Text of a process's /metrics. */
  metrics(name: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startScaleSystem(o: {
  gateways: number;
  connectionsPerGateway: number;
  drainWindow: string;
}): Promise<ScaleSystem> {
  const dataDir = mkdtempSync(join(tmpdir(), "cc-bench-scale-"));
  const nats = await startNats({ name: "bench-scale" });
  const output: string[] = [];
  let stack: DevStack;
  try {
    stack = await startLoopbackStack(
      {
        dataDir,
        store: "nats",
        natsUrl: nats.url,
        gateways: o.gateways,
        logic: 2,
        drainWindow: o.drainWindow,
        gatewayArgs: [
          // Room for a drained gateway's share on top (the fd limit is 20,000 per process).
          `--max-connections=${Math.min(18_000, Math.ceil(o.connectionsPerGateway * 2))}`,
          "--max-pending-auth=4000",
          "--admission-rate=4000",
          "--admission-burst=4000",
        ],
      },
      (l) => {
        output.push(l);
        if (output.length > 5000) output.splice(0, 1000);
      },
    );
  } catch (err) {
    await nats.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const ops = new Map(stack.opsTargets.map((t) => [t.name, t.address]));
  return {
    stack,
    nats,
    jwtSecret: readFileSync(join(dataDir, "dev-jwt-secret"), "utf8").trim(),
    gateways: stack.gatewayUrls.map((u) => {
      const url = new URL(u);
      return { host: url.hostname, port: Number(url.port) };
    }),
    pids() {
      const out = new Map<string, number>();
      for (const [i, g] of stack.gateways.entries()) out.set(`gateway-${i}`, g.pid() ?? 0);
      for (const [i, l] of stack.logic.entries()) out.set(`logic-${i}`, l.pid() ?? 0);
      for (const pid of pidsMatching(nats.storeDir)) out.set("nats-server", pid);
      return out;
    },
    async metrics(name) {
      const address = ops.get(name);
      if (address === undefined) throw new Error(`no process ${name}`);
      return (await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    },
    async stop() {
      if (process.env.BENCH_SCALE_DEBUG) for (const l of output.slice(-300)) process.stderr.write(`${l}\n`);
      await stack.stop();
      await nats.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Sum of a metric's samples whose label set contains `labels` (a substring like `gateway="gateway-3"`). */
export function metricSum(text: string, name: string, labels = ""): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== "{" && rest[0] !== " ") continue;
    if (labels !== "" && !rest.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}
