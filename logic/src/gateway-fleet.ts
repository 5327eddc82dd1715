import type {
  ClientEvent,
  ConnectionCommand,
  LogicPeer,
  Reply,
} from "../../gen/chatcluster/v1/gateway_stream_pb.js";

/**
 * The seam between logic's handlers (auth, store, routing) and the push-stream
 * layer that keeps one stream to every gateway.
 */

/** Identifies one gateway process: a restarted gateway has a new epoch. */
export interface GatewayRef {
  readonly id: string;
  readonly epoch: string;
}

/** One gateway as this logic process knows it, for the server API's Info. */
export interface GatewayView {
  readonly id: string;
  readonly epoch: string;
  readonly version: string;
  /** The stream's state: ready, connecting, backoff. */
  readonly state: string;
  readonly draining: boolean;
  /** From the gateway's last status report on the current stream (0 before the first). */
  readonly connections: number;
  readonly rooms: number;
  /** The logic processes with a stream to that gateway, as it reported them. */
  readonly logic: readonly LogicPeer[];
}

/** Where a command went, and when the gateways had applied it. */
export interface CommandDispatch {
  /** Gateways the command was queued for. */
  readonly gateways: number;
  /**
   * Resolves with how many of them acknowledged it (a gateway applies a
   * command, and sends the interest changes it caused, before it
   * acknowledges): when all did, or when one's stream or queue dropped it.
   */
  readonly applied: Promise<number>;
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
  /**
   * Queues a server API command for the connections under `key` (`#user:<id>`)
   * on every gateway with interest in it, or on every gateway for the empty
   * key, with `payload` (a client frame) for each connection it reaches.
   */
  command(key: string, command: ConnectionCommand, payload: Uint8Array): CommandDispatch;
  /** Gateways with interest in `key` (a room's local members) as this process sees them. */
  gatewaysWith(key: string): number;
  /** Every gateway this process knows. */
  gatewayViews(): GatewayView[];
}

/** What the push-stream layer hands to handlers. */
export interface EventSink {
  /** A batch of client events from one gateway, in the order the gateway sent them. */
  onEvents(from: GatewayRef, events: readonly ClientEvent[]): void;
}
