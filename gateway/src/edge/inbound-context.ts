import type { ClientEvent } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { CloseCode } from "../../../protocol/close-codes.ts";
import type { LogicLink } from "../logic-link.ts";
import type { Connection } from "./connection.ts";
import type { EdgeLimits } from "./edge-limits.ts";
import type { GatewayMetrics } from "./gateway-metrics.ts";
import type { PresenceTracker } from "./presence-tracker.ts";
import type { RoomIndex } from "./room-index.ts";

/** What inbound handling needs from the edge (one object, built once). */
export interface InboundContext {
  readonly limits: EdgeLimits;
  readonly metrics: GatewayMetrics;
  readonly index: RoomIndex;
  readonly link: LogicLink;
  readonly presence: PresenceTracker;
  /** Prefix of client-visible connection ids. */
  readonly gatewayId: string;
  send(conn: Connection, payload: Uint8Array): void;
  sendEvent(conn: Connection, kind: ClientEvent["kind"], routingKey: string): boolean;
  closeConn(conn: Connection, code: CloseCode, reason: string): void;
  startAuth(conn: Connection, token: string, refresh: boolean): void;
  /** Answers with the retryable `unavailable` error (logic could not take, or did not answer, the frame `id`). */
  unavailable(conn: Connection, id?: string): void;
}
