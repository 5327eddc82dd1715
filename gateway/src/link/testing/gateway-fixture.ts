// A gateway process for tests and benchmarks: the real link server with an
// EdgeSink that counts, checks order and measures latency. Controlled by its
// parent over the IPC channel (see gateway-process.ts); exits when the parent
// goes away so a crashed test leaves no process behind.

import { monitorEventLoopDelay } from "node:perf_hooks";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as hdr from "hdr-histogram-js";
import {
  ClientEventSchema,
  type Delivery,
  type Reply,
  ReplySchema,
} from "../../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { createLogger } from "../../../../platform/logger.ts";
import { createMetricsRegistry } from "../../../../platform/metrics-registry.ts";
import type { EdgeSink } from "../../logic-link.ts";
import { createLogicLinkServer } from "../logic-link-server.ts";
import {
  CHECK_MAGIC,
  type FixtureRequest,
  type FixtureStats,
  LATENCY_MAGIC,
  payloadIntact,
} from "./fixture-protocol.ts";

const env = process.env;
const gatewayId = env.FIXTURE_GATEWAY_ID ?? "gateway-0";
const epoch = env.FIXTURE_EPOCH ?? `${process.pid}-${Date.now()}`;

const stats: FixtureStats = {
  gatewayId,
  epoch,
  pid: process.pid,
  deliveries: 0,
  batches: 0,
  bytes: 0,
  orderViolations: 0,
  replies: 0,
  connectedStreams: 0,
  pendingEvents: 0,
  corrupt: 0,
};
const lastSeq = new Map<string, bigint>();
let histogram: hdr.Histogram | undefined;
let loopDelay: ReturnType<typeof monitorEventLoopDelay> | undefined;
let waiter: { target: number; id: number } | undefined;
/** Replies kept for takeReplies. */
const kept: string[] = [];

const sink: EdgeSink = {
  deliver(deliveries: readonly Delivery[]) {
    stats.batches++;
    const now = histogram === undefined ? 0n : process.hrtime.bigint();
    for (const d of deliveries) {
      stats.deliveries++;
      stats.bytes += d.payload.byteLength;
      const prev = lastSeq.get(d.room);
      if (d.seq !== 0n) {
        if (prev !== undefined && d.seq <= prev) stats.orderViolations++;
        lastSeq.set(d.room, d.seq);
      }
      const p = d.payload;
      if (p[0] === CHECK_MAGIC && !payloadIntact(p, d.seq)) stats.corrupt++;
      if (histogram !== undefined && p.byteLength >= 12 && p[0] === LATENCY_MAGIC) {
        const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
        const scheduled = dv.getBigUint64(4, true);
        histogram.recordValue(Number(now - scheduled) / 1000); // microseconds
      }
    }
    if (waiter !== undefined && stats.deliveries >= waiter.target) {
      process.send?.({ id: waiter.id, ok: true, stats: snapshot() });
      waiter = undefined;
    }
  },
  reply(replies: readonly Reply[]) {
    stats.replies += replies.length;
    for (const r of replies) kept.push(Buffer.from(toBinary(ReplySchema, r)).toString("base64"));
    if (kept.length > 1000) kept.splice(0, kept.length - 1000);
  },
  expired() {},
};

const registry = createMetricsRegistry("gateway", "test");
const server = createLogicLinkServer({
  sink,
  gatewayId,
  epoch,
  registry,
  log: createLogger("gateway", (env.FIXTURE_LOG_LEVEL as "info" | undefined) ?? "warn"),
  host: "127.0.0.1",
  port: Number(env.FIXTURE_PORT ?? 0),
  secret: env.FIXTURE_SECRET || undefined,
  pingIntervalMs: Number(env.FIXTURE_PING_MS ?? 1000),
  deadAfterMs: Number(env.FIXTURE_DEAD_MS ?? 4000),
  maxFrameBytes: env.FIXTURE_MAX_FRAME_BYTES ? Number(env.FIXTURE_MAX_FRAME_BYTES) : undefined,
  tls: env.FIXTURE_TLS_CERT
    ? { certFile: env.FIXTURE_TLS_CERT, keyFile: env.FIXTURE_TLS_KEY ?? "" }
    : undefined,
});

function snapshot(): FixtureStats {
  stats.connectedStreams = server.link.connectedStreams();
  stats.pendingEvents = (server.link as unknown as { pendingCount: number }).pendingCount;
  return { ...stats };
}

process.on("message", async (raw: unknown) => {
  const req = raw as FixtureRequest;
  const reply = (body: Record<string, unknown>) => process.send?.({ id: req.id, ok: true, ...body });
  try {
    switch (req.cmd) {
      case "stats":
        reply({ stats: snapshot() });
        break;
      case "roomAdded":
        for (const room of req.rooms) server.link.roomAdded(room);
        reply({});
        break;
      case "roomRemoved":
        for (const room of req.rooms) server.link.roomRemoved(room);
        reply({});
        break;
      case "sendEvents": {
        let accepted = 0;
        for (let i = 0; i < req.count; i++) {
          const ev = create(ClientEventSchema, {
            connectionId: i + 1,
            kind: { case: "send", value: { room: req.room, clientMsgId: `m${i}`, body: new Uint8Array(8) } },
          });
          if (server.link.send(ev, req.room)) accepted++;
        }
        reply({ accepted });
        break;
      }
      case "sendEvent": {
        const ev = fromBinary(ClientEventSchema, Buffer.from(req.event, "base64"));
        const accepted = server.link.send(ev, "fixture");
        reply({ accepted, eventId: String(ev.eventId) });
        break;
      }
      case "takeReplies":
        reply({ replies: kept.splice(0) });
        break;
      case "waitDeliveries":
        if (stats.deliveries >= req.target) reply({ stats: snapshot() });
        else waiter = { target: req.target, id: req.id };
        break;
      case "latencyStart":
        loopDelay = monitorEventLoopDelay({ resolution: 1 });
        loopDelay.enable();
        histogram = hdr.build({
          lowestDiscernibleValue: 1,
          highestTrackableValue: 60_000_000,
          numberOfSignificantValueDigits: 3,
        });
        reply({});
        break;
      case "latencyReport": {
        const h = histogram;
        histogram = undefined;
        loopDelay?.disable();
        const ld = loopDelay;
        loopDelay = undefined;
        reply({
          loopDelayMs: ld && { p99: ld.percentile(99) / 1e6, max: ld.max / 1e6 },
          latencyUs: h && {
            count: h.totalCount,
            p50: h.getValueAtPercentile(50),
            p90: h.getValueAtPercentile(90),
            p99: h.getValueAtPercentile(99),
            p999: h.getValueAtPercentile(99.9),
            max: h.maxValue,
          },
        });
        break;
      }
      case "metrics":
        reply({ text: await registry.metrics() });
        break;
      case "reset":
        stats.deliveries = 0;
        stats.batches = 0;
        stats.bytes = 0;
        stats.orderViolations = 0;
        stats.corrupt = 0;
        lastSeq.clear();
        reply({});
        break;
    }
  } catch (err) {
    process.send?.({ id: req.id, ok: false, error: String(err) });
  }
});

process.on("disconnect", () => process.exit(0));
// A normal exit writes --cpu-prof profiles; SIGTERM would not.
process.on("SIGTERM", () => process.exit(0));
const { port } = await server.listen();
process.send?.({ id: 0, ok: true, ready: true, port, epoch, gatewayId });
