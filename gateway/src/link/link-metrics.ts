import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export const REJECT_REASONS = [
  "unauthenticated",
  "bad_hello",
  "hello_timeout",
  "malformed_frame",
  "oversized_frame",
] as const;
export const CLOSE_REASONS = [
  "logic_closed",
  "error",
  "peer_silent",
  "shutting_down",
  "backlog_full",
] as const;
export type StreamCloseReason = (typeof CLOSE_REASONS)[number];
/**
 * pending_full, pending_bytes_full: events refused (the pending set is at its
 * bound in events or bytes); deadline: events logic did not answer in time;
 * duplicate_reply: replies to events already answered or given up;
 * mismatched_reply: replies naming a pending event but another connection,
 * gateway epoch or kind; unexpected_auth_reply: auth results that answer no
 * pending auth of their connection; control_full: pongs not queued behind a
 * stream logic does not read.
 */
export const LINK_DROP_REASONS = [
  "pending_full",
  "pending_bytes_full",
  "deadline",
  "duplicate_reply",
  "mismatched_reply",
  "unexpected_auth_reply",
  "control_full",
] as const;

/** Metrics of the gateway's end of the push stream. No labels carry ids. */
export interface GatewayLinkMetrics {
  readonly connectedStreams: Gauge;
  readonly streamsRejected: Counter<"reason">;
  readonly previousSecretStreams: Counter;
  readonly streamsClosed: Counter<"reason">;
  readonly batchesReceived: Counter;
  readonly deliveriesReceived: Counter;
  readonly repliesReceived: Counter;
  readonly eventBatchesSent: Counter;
  readonly eventsSent: Counter;
  readonly eventsResent: Counter;
  readonly eventsPending: Gauge;
  readonly eventsPendingBytes: Gauge;
  readonly drops: Counter<"reason">;
  readonly rtt: Histogram;
  readonly sessionPingFailures: Counter;
}

export function createGatewayLinkMetrics(
  registry: Registry,
  readPending: () => { events: number; bytes: number },
): GatewayLinkMetrics {
  const registers = [registry];
  const m: GatewayLinkMetrics = {
    connectedStreams: new Gauge({
      name: "chatcluster_gateway_link_connected_streams",
      help: "Logic streams past the hello exchange.",
      registers,
    }),
    streamsRejected: new Counter({
      name: "chatcluster_gateway_link_streams_rejected_total",
      help: "Streams refused or ended for a protocol violation, by reason.",
      labelNames: ["reason"] as const,
      registers,
    }),
    previousSecretStreams: new Counter({
      name: "chatcluster_gateway_link_previous_secret_streams_total",
      help: "Streams admitted with the previous internal secret (logic processes started before a rotation); stays flat once a rotation is done.",
      registers,
    }),
    streamsClosed: new Counter({
      name: "chatcluster_gateway_link_streams_closed_total",
      help: "Streams that ended after the hello exchange, by reason.",
      labelNames: ["reason"] as const,
      registers,
    }),
    batchesReceived: new Counter({
      name: "chatcluster_gateway_link_batches_received_total",
      help: "DeliveryBatch frames received from logic.",
      registers,
    }),
    deliveriesReceived: new Counter({
      name: "chatcluster_gateway_link_deliveries_received_total",
      help: "Deliveries received from logic and handed to the edge.",
      registers,
    }),
    repliesReceived: new Counter({
      name: "chatcluster_gateway_link_replies_received_total",
      help: "Replies received from logic and handed to the edge.",
      registers,
    }),
    eventBatchesSent: new Counter({
      name: "chatcluster_gateway_link_event_batches_sent_total",
      help: "ClientEventBatch frames sent to logic.",
      registers,
    }),
    eventsSent: new Counter({
      name: "chatcluster_gateway_link_events_sent_total",
      help: "Client events sent to logic, resends included.",
      registers,
    }),
    eventsResent: new Counter({
      name: "chatcluster_gateway_link_events_resent_total",
      help: "Unanswered events sent again on another stream because theirs ended.",
      registers,
    }),
    eventsPending: new Gauge({
      name: "chatcluster_gateway_link_events_pending",
      help: "Events sent or waiting for a stream, not yet answered by a Reply.",
      registers,
      collect() {
        this.set(readPending().events);
      },
    }),
    eventsPendingBytes: new Gauge({
      name: "chatcluster_gateway_link_events_pending_bytes",
      help: "Estimated bytes of the pending events (bounded by --max-pending-event-bytes).",
      registers,
      collect() {
        this.set(readPending().bytes);
      },
    }),
    drops: new Counter({
      name: "chatcluster_gateway_link_drops_total",
      help: "Events refused or given up, replies discarded and control frames not queued, by reason.",
      labelNames: ["reason"] as const,
      registers,
    }),
    rtt: new Histogram({
      name: "chatcluster_gateway_link_rtt_seconds",
      help: "Round-trip time of application Ping/Pong frames on logic streams.",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    sessionPingFailures: new Counter({
      name: "chatcluster_gateway_link_session_ping_failures_total",
      help: "HTTP/2 sessions destroyed because a PING went unanswered.",
      registers,
    }),
  };
  for (const reason of REJECT_REASONS) m.streamsRejected.inc({ reason }, 0);
  for (const reason of CLOSE_REASONS) m.streamsClosed.inc({ reason }, 0);
  for (const reason of LINK_DROP_REASONS) m.drops.inc({ reason }, 0);
  return m;
}
