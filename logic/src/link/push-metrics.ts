import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Why a delivery, reply or control frame (control_full: a pong) did not reach its gateway. */
export const DROP_REASONS = [
  "queue_full",
  "reply_queue_full",
  "stream_reset",
  "epoch_changed",
  "gateway_removed",
  "unknown_gateway",
  "stale_epoch",
  "control_full",
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Why a stream ended and a reconnect was scheduled. */
export const RESET_REASONS = [
  "stream_error",
  "stream_ended",
  "ping_timeout",
  "hello_timeout",
  "overflow",
  "protocol",
  "unauthenticated",
] as const;
export type ResetReason = (typeof RESET_REASONS)[number];

/**
 * Metrics of logic's end of the push stream. The `gateway` label on the queue
 * gauges is the gateway id: its cardinality is bounded by the number of gateway
 * pods, and the series of a gateway is removed when discovery drops it.
 */
export interface PushMetrics {
  readonly connectedStreams: Gauge;
  readonly queueDepth: Gauge<"gateway">;
  readonly queueBytes: Gauge<"gateway">;
  /** The per-gateway byte bound, so dashboards and alerts can show queue fill as a ratio. */
  readonly queueLimitBytes: Gauge;
  readonly batchesSent: Counter<"kind">;
  readonly messagesSent: Counter<"kind">;
  readonly drops: Counter<"reason">;
  readonly reconnects: Counter<"reason">;
  readonly rtt: Histogram;
  readonly eventsReceived: Counter;
  readonly batchSize: Histogram;
  readonly fanoutGateways: Histogram;
}

/** One gateway's queue, as read at scrape time. */
export interface QueueReading {
  readonly gateway: string;
  readonly messages: number;
  readonly bytes: number;
}

/**
 * `readQueues` is called when the queue gauges are scraped; the hot path never
 * updates them.
 */
export function createPushMetrics(
  registry: Registry,
  readQueues: () => readonly QueueReading[] = () => [],
): PushMetrics {
  const registers = [registry];
  const m: PushMetrics = {
    connectedStreams: new Gauge({
      name: "chatcluster_logic_push_connected_streams",
      help: "Gateway streams past the hello exchange.",
      registers,
    }),
    queueDepth: new Gauge({
      name: "chatcluster_logic_push_queue_messages",
      help: "Deliveries and replies queued or in flight (sent, not yet acknowledged) per gateway.",
      labelNames: ["gateway"] as const,
      registers,
      collect() {
        for (const q of readQueues()) this.set({ gateway: q.gateway }, q.messages);
      },
    }),
    queueBytes: new Gauge({
      name: "chatcluster_logic_push_queue_bytes",
      help: "Encoded bytes queued or in flight per gateway; bounded by maxQueueBytes.",
      labelNames: ["gateway"] as const,
      registers,
      collect() {
        for (const q of readQueues()) this.set({ gateway: q.gateway }, q.bytes);
      },
    }),
    queueLimitBytes: new Gauge({
      name: "chatcluster_logic_push_queue_limit_bytes",
      help: "The bound on bytes queued or in flight per gateway (--max-queue-bytes); at it, deliveries are dropped.",
      registers,
    }),
    batchesSent: new Counter({
      name: "chatcluster_logic_push_batches_sent_total",
      help: "Frames written to gateway streams, by kind (deliveries, replies).",
      labelNames: ["kind"] as const,
      registers,
    }),
    messagesSent: new Counter({
      name: "chatcluster_logic_push_messages_sent_total",
      help: "Deliveries and replies written to gateway streams, by kind.",
      labelNames: ["kind"] as const,
      registers,
    }),
    drops: new Counter({
      name: "chatcluster_logic_push_drops_total",
      help: "Deliveries, replies and pongs dropped before reaching a gateway stream, by reason.",
      labelNames: ["reason"] as const,
      registers,
    }),
    reconnects: new Counter({
      name: "chatcluster_logic_push_reconnects_total",
      help: "Streams that ended and were scheduled to reconnect, by reason.",
      labelNames: ["reason"] as const,
      registers,
    }),
    rtt: new Histogram({
      name: "chatcluster_logic_push_rtt_seconds",
      help: "Round-trip time of application Ping/Pong frames on gateway streams.",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    eventsReceived: new Counter({
      name: "chatcluster_logic_push_events_received_total",
      help: "Client events received from gateways and handed to the handlers.",
      registers,
    }),
    fanoutGateways: new Histogram({
      name: "chatcluster_logic_fanout_gateways",
      help: "Gateways a room message was queued for (the gateways with members in the room), per message.",
      buckets: [0, 1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
    batchSize: new Histogram({
      name: "chatcluster_logic_push_batch_messages",
      help: "Deliveries or replies per frame written.",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    }),
  };
  for (const kind of ["deliveries", "replies"]) {
    m.batchesSent.inc({ kind }, 0);
    m.messagesSent.inc({ kind }, 0);
  }
  for (const reason of DROP_REASONS) m.drops.inc({ reason }, 0);
  for (const reason of RESET_REASONS) m.reconnects.inc({ reason }, 0);
  return m;
}
