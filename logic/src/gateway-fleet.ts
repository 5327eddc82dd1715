import type { ClientEvent, Reply } from "../../gen/chatcluster/v1/gateway_stream_pb.js";

/**
 * The seam between logic's handlers (auth, store, routing) and the push-stream
 * layer that keeps one stream to every gateway.
 */

/** Identifies one gateway process: a restarted gateway has a new epoch. */
export interface GatewayRef {
  readonly id: string;
  readonly epoch: string;
}

/** What handlers ask of the push-stream layer. Every call is non-blocking. */
export interface GatewayFleet {
  /**
   * Queues `payload` (a complete client frame, serialized once) for every
   * gateway with interest in `room`. Each gateway has its own bounded queue;
   * a full queue drops and counts, it never blocks the others. The payload is
   * referenced, not copied, until it is written: callers must not reuse it.
   * `acceptedAtMs` (ms since the epoch) is when logic took the message in; the
   * gateways measure delivery latency from it.
   */
  deliverToRoom(room: string, seq: bigint, payload: Uint8Array, acceptedAtMs?: number): void;
  /** Queues a reply to the gateway an event came from; dropped if that stream is gone. */
  reply(to: GatewayRef, reply: Reply): void;
  /** Gateways whose stream is open right now. */
  connectedGateways(): number;
}

/** What the push-stream layer hands to handlers. */
export interface EventSink {
  /** A batch of client events from one gateway, in the order the gateway sent them. */
  onEvents(from: GatewayRef, events: readonly ClientEvent[]): void;
}
