// The production push path: a real GatewayFleet (logic side, this process)
// streaming to a real LogicLinkServer in a gateway-fixture child process.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setImmediate as yieldTurn } from "node:timers/promises";
import { Registry } from "prom-client";
import { stampPayload } from "../../gateway/src/link/testing/fixture-protocol.ts";
import { GatewayProcess } from "../../gateway/src/link/testing/gateway-process.ts";
import { StaticDiscovery } from "../../logic/src/discovery/index.ts";
import { createGatewayFleet, type RunningGatewayFleet } from "../../logic/src/link/index.ts";
import { createLogger } from "../../platform/logger.ts";
import { PAYLOAD_BYTES } from "./baselines.ts";

/** Queue depth (messages queued + in flight) above which the sender yields. */
const HIGH_WATER = 8192;
/** Atomics.wait target for sub-millisecond sleeps. */
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const CHUNK = 512;
const ROOM = "bench";

export interface ProductionRig {
  gateway: GatewayProcess;
  fleet: RunningGatewayFleet;
  registry: Registry;
  close(): Promise<void>;
}

export async function startProductionRig(): Promise<ProductionRig> {
  const gateway = await GatewayProcess.start({ gatewayId: "bench-gateway-0" });
  await gateway.rooms(ROOM);
  const registry = new Registry();
  const fleet = createGatewayFleet({
    discovery: new StaticDiscovery([gateway.address]),
    logicId: "bench-logic-0",
    epoch: `${process.pid}`,
    sink: { onEvents: () => {} },
    registry,
    log: createLogger("logic", "warn"),
    ...(process.env.PUSH_BENCH_BATCH_BYTES
      ? { maxBatchBytes: Number(process.env.PUSH_BENCH_BATCH_BYTES) }
      : {}),
    ...(process.env.PUSH_BENCH_BATCH_MESSAGES
      ? { maxBatchMessages: Number(process.env.PUSH_BENCH_BATCH_MESSAGES) }
      : {}),
  });
  await fleet.start();
  const deadline = Date.now() + 10_000;
  while (fleet.stats()[0]?.rooms !== 1) {
    if (Date.now() > deadline) throw new Error("production rig: gateway stream not ready in 10 s");
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    gateway,
    fleet,
    registry,
    close: async () => {
      await fleet.stop();
      gateway.child.kill("SIGTERM");
      await gateway.exited;
    },
  };
}

function queued(fleet: RunningGatewayFleet): number {
  return fleet.stats()[0]?.messages ?? 0;
}

/**
 * Sends as fast as the link takes it (never above HIGH_WATER queued, so
 * nothing is dropped) until `n` messages or `durationMs` elapsed, and resolves
 * with the rate measured when the gateway has received all of them.
 */
export async function productionThroughput(
  rig: ProductionRig,
  limits: { n?: number; durationMs?: number },
): Promise<{ msgsPerS: number; sent: number; elapsedMs: number }> {
  const { fleet, gateway } = rig;
  const before = (await gateway.stats()).deliveries;
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(7);
  const n = limits.n ?? Number.POSITIVE_INFINITY;
  const t0 = performance.now();
  const end = limits.durationMs === undefined ? Number.POSITIVE_INFINITY : t0 + limits.durationMs;
  let sent = 0;
  let seq = BigInt(before) + 1n;
  while (sent < n && performance.now() < end) {
    if (queued(fleet) < HIGH_WATER) {
      const k = Math.min(CHUNK, n - sent);
      for (let i = 0; i < k; i++) fleet.deliverToRoom(ROOM, seq++, payload);
      sent += k;
    }
    await yieldTurn();
  }
  await gateway.waitDeliveries(before + sent, 120_000);
  const elapsedMs = performance.now() - t0;
  return { msgsPerS: Math.round((sent / elapsedMs) * 1000), sent, elapsedMs };
}

/**
 * Offers `rate` messages per second on a fixed schedule. Each payload carries
 * its scheduled send time, and the gateway records now - scheduled: a late
 * send counts against latency (coordinated omission corrected).
 */
export async function productionLatency(
  rig: ProductionRig,
  rate: number,
  warmupMs: number,
  measureMs: number,
): Promise<{
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  count: number;
  senderLoopDelayMs: { p99: number; max: number };
  gatewayLoopDelayMs: { p99: number; max: number } | undefined;
}> {
  const { fleet, gateway } = rig;
  const before = (await gateway.stats()).deliveries;
  const intervalNs = BigInt(Math.round(1e9 / rate));
  let seq = BigInt(before) + 1n;
  let sent = 0;
  const offer = async (durationMs: number) => {
    const start = process.hrtime.bigint();
    const end = start + BigInt(durationMs) * 1_000_000n;
    let next = start;
    for (;;) {
      const now = process.hrtime.bigint();
      if (now >= end) break;
      while (next <= now) {
        // A fresh payload per message, as handlers serialize one: the fleet
        // keeps a reference until the frame is written.
        const payload = new Uint8Array(PAYLOAD_BYTES);
        stampPayload(payload, next);
        fleet.deliverToRoom(ROOM, seq++, payload);
        sent++;
        next += intervalNs;
      }
      // Yield first (twice: the flush, then the HTTP/2 write it starts), so
      // the frame leaves right away; then sleep (without burning the CPU the
      // gateway process needs) in slices of at most 0.2 ms, so incoming acks
      // wait at most that long. Lateness still counts: latency is measured
      // from the scheduled time.
      await yieldTurn();
      await yieldTurn();
      const aheadNs = next - process.hrtime.bigint();
      if (aheadNs > 60_000n) {
        const sleepNs = aheadNs - 30_000n < 200_000n ? aheadNs - 30_000n : 200_000n;
        Atomics.wait(sleeper, 0, 0, Number(sleepNs) / 1e6);
      }
    }
  };
  await offer(warmupMs);
  await gateway.call({ cmd: "latencyStart" });
  // How late each process's event loop ran: on a shared CPU this, not the
  // link, is what sets the tail.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  await offer(measureMs);
  loop.disable();
  await gateway.waitDeliveries(before + sent, 60_000);
  const h = await gateway.latencyReport();
  if (h === undefined) throw new Error("latency: the gateway recorded nothing");
  const ms = (us: number) => Math.round(us) / 1000;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    p50: ms(h.p50),
    p90: ms(h.p90),
    p99: ms(h.p99),
    p999: ms(h.p999),
    max: ms(h.max),
    count: h.count,
    senderLoopDelayMs: { p99: round(loop.percentile(99) / 1e6), max: round(loop.max / 1e6) },
    gatewayLoopDelayMs: h.loopDelayMs && { p99: round(h.loopDelayMs.p99), max: round(h.loopDelayMs.max) },
  };
}
