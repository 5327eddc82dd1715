import type { ClientEvent, Delivery, Reply } from "../../gen/chatcluster/v1/gateway_stream_pb.js";

/**
 * The seam between the WebSocket edge and the push-stream layer of a gateway.
 *
 * The edge owns sockets and the local room index; the link layer owns the
 * streams to logic processes. Neither knows how the other works.
 */

/** What the edge asks of the push-stream layer. */
export interface LogicLink {
  /**
   * Hands an event to logic. The link assigns `event_id`, picks a connected
   * logic stream by rendezvous hash of `routingKey` (the room for room events,
   * the connection id for connection events), and keeps the event until its
   * Reply arrives, resending it on another stream if its stream dies first.
   * Returns false when the event cannot be accepted (no logic stream and the
   * pending buffer is full): the edge answers the client with a retryable error.
   */
  send(event: ClientEvent, routingKey: string): boolean;
  /** The room got its first local member: announce interest to every logic stream. */
  roomAdded(room: string): void;
  /** The room lost its last local member. */
  roomRemoved(room: string): void;
  /**
   * How long the oldest event still waiting for logic's answer has waited, ms
   * (0 when none waits): the backlog the edge's retry hints grow with.
   */
  backlogMs(): number;
  /** Logic streams currently connected (the gateway is ready only with at least one). */
  connectedStreams(): number;
  /** Tells logic the gateway drains; deliveries to existing connections continue. */
  setDraining(draining: boolean): void;
}

/** What the edge holds now, for the gateway's status reports to logic (the server API's Info). */
export interface EdgeStatus {
  readonly connections: number;
  readonly pendingAuth: number;
  readonly rooms: number;
}

/** What the push-stream layer hands to the edge, a whole frame at a time. */
export interface EdgeSink {
  /** What the edge holds now; reported to logic every few seconds (absent: zeros). */
  status?(): EdgeStatus;
  /** A delivery batch from one logic stream, in stream order. */
  deliver(deliveries: readonly Delivery[]): void;
  /** Replies to events (each one also acknowledges its event). */
  reply(replies: readonly Reply[]): void;
  /**
   * Events logic did not answer within the link's deadline, oldest first: the
   * edge answers each client as a retryable refusal would (a late reply is
   * discarded by the link).
   */
  expired(events: readonly ClientEvent[]): void;
}
