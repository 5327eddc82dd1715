/**
 * TEST AND BENCHMARK ONLY: one gateway edge with a FakeLogicLink in its own
 * process, driven over the Node IPC channel (child_process.fork). Process
 * isolation keeps the edge's event loop, memory and fds apart from the load.
 *
 * argv[2]: JSON of Partial<EdgeLimits>; argv[3]: host; argv[4] (optional): JSON
 * {windowMs, graceMs} to drain on SIGTERM the way the gateway's composition root
 * does (platform/shutdown.ts). Sends {op:"ready", port} once listening.
 */
import { create } from "@bufbuild/protobuf";
import { type Delivery, DeliverySchema } from "../../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { createLogger } from "../../../../platform/logger.ts";
import { onShutdownSignal } from "../../../../platform/shutdown.ts";
import { encodeMessageFrame } from "../../../../protocol/client-frames.ts";
import type { EdgeLimits } from "../edge-limits.ts";
import { startTestEdge } from "./edge-harness.ts";

export type FixtureCommand =
  | { op: "publish"; room: string; count: number; bodyBytes: number; id: number }
  | { op: "blast"; room: string; batches: number; batchSize: number; bodyBytes: number; id: number }
  | { op: "drain"; windowMs: number; id: number }
  | { op: "stats"; id: number }
  | { op: "metrics"; id: number }
  | { op: "gc"; id: number; flavor?: "regular" | "last-resort" };

const limits = JSON.parse(process.argv[2] ?? "{}") as Partial<EdgeLimits>;
const h = await startTestEdge(limits, undefined, process.argv[3] ?? "127.0.0.1");
if (process.argv[4]) {
  const { windowMs, graceMs } = JSON.parse(process.argv[4]) as { windowMs: number; graceMs: number };
  onShutdownSignal(createLogger("gateway", "silent"), graceMs, async () => {
    await h.edge.drain(windowMs);
    await h.edge.close();
  });
}
const send = (msg: object) => process.send?.(msg);

function body(bytes: number): string {
  return JSON.stringify({ t: Date.now(), pad: "x".repeat(Math.max(0, bytes - 30)) });
}

/** The last seq blasted per room: blasts go around the fake logic, whose head does not move. */
const blasted = new Map<string, number>();

/** Deliveries built like logic builds them: encoded once, handed over in batches. */
async function blast(room: string, batches: number, batchSize: number, bodyBytes: number) {
  // A room's seqs only grow: the gateway sends each member a seq once.
  let seq = Math.max(h.link.headSeq(room), blasted.get(room) ?? 0);
  const pad = "x".repeat(Math.max(0, bodyBytes - 30));
  const started = process.hrtime.bigint();
  for (let b = 0; b < batches; b++) {
    const batch: Delivery[] = [];
    for (let i = 0; i < batchSize; i++) {
      seq++;
      const payload = encodeMessageFrame({
        room,
        seq,
        prev: seq - 1,
        id: `b${seq}`,
        from: "bench",
        ts: Date.now(),
        bodyJson: `{"pad":"${pad}"}`,
      });
      batch.push(create(DeliverySchema, { room, seq: BigInt(seq), payload }));
    }
    h.edge.deliver(batch);
    blasted.set(room, seq);
    // Yield so the per-tick flush runs and socket backpressure is honoured, like batches arriving from a stream.
    await new Promise((r) => setImmediate(r));
  }
  return Number(process.hrtime.bigint() - started) / 1e6;
}

process.on("message", async (raw) => {
  const cmd = raw as FixtureCommand;
  switch (cmd.op) {
    case "publish":
      for (let i = 0; i < cmd.count; i++)
        h.link.publish(cmd.room, "sys", `p${Date.now()}-${i}`, body(cmd.bodyBytes));
      send({ op: "done", id: cmd.id, head: h.link.headSeq(cmd.room) });
      break;
    case "blast":
      send({ op: "done", id: cmd.id, ms: await blast(cmd.room, cmd.batches, cmd.batchSize, cmd.bodyBytes) });
      break;
    case "drain": {
      const t = Date.now();
      await h.edge.drain(cmd.windowMs);
      send({ op: "done", id: cmd.id, ms: Date.now() - t });
      break;
    }
    case "stats":
      send({
        op: "done",
        id: cmd.id,
        stats: h.edge.stats(),
        rss: process.memoryUsage().rss,
        ready: h.edge.notReadyReason(),
      });
      break;
    case "metrics":
      send({ op: "done", id: cmd.id, text: await h.registry.metrics() });
      break;
    case "gc":
      // "last-resort" is a memory-reducing full GC (what V8's idle memory reducer converges to).
      for (let i = 0; i < 2; i++) {
        (globalThis as { gc?: (o?: object) => void }).gc?.({
          type: "major",
          execution: "sync",
          flavor: cmd.flavor ?? "last-resort",
        });
        await new Promise((r) => setTimeout(r, 200));
      }
      send({ op: "done", id: cmd.id, rss: process.memoryUsage().rss, memory: process.memoryUsage() });
      break;
  }
});
process.on("disconnect", () => process.exit(0));
send({ op: "ready", port: h.port });
