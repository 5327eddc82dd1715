import { create } from "@bufbuild/protobuf";
import {
  type ClientEvent,
  JoinResultSchema,
  type Reply,
  ReplySchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { ERROR_CODES, encodeErrorFrame } from "../../../protocol/client-frames.ts";
import { CLOSE_CODES } from "../../../protocol/close-codes.ts";
import type { EdgeCore } from "./edge-core.ts";

/**
 * EdgeSink.expired for one edge: events logic did not answer in time are
 * answered here the way a retryable refusal would be, so no client waits
 * forever and none is disconnected for good. An auth of a connection not yet
 * authenticated closes it with 4013 overloaded (the SDK reconnects with
 * backoff); a token refresh, send, query, signal or read marker gets the
 * `unavailable` error with a retry hint; a join is answered as a failed join
 * (the membership goes unless logic had accepted it before, and the
 * deliveries held for it are released). Leaves, closes and the epoch's own
 * presence reports need no answer.
 */
export function createExpiryHandler(
  core: EdgeCore,
  reply: (replies: readonly Reply[]) => void,
): (events: readonly ClientEvent[]) => void {
  return (events) => {
    const joins: Reply[] = [];
    for (const ev of events) {
      const conn = core.conns.get(ev.connectionId);
      if (conn === undefined || conn.state === "closing" || conn.state === "closed") continue;
      const k = ev.kind;
      switch (k.case) {
        case "auth":
          conn.authInFlight = false;
          if (conn.state === "authenticating")
            core.closeConn(conn, CLOSE_CODES.overloaded, "logic did not answer; retry");
          else core.unavailable(conn);
          break;
        case "join": {
          const frame = encodeErrorFrame({
            code: ERROR_CODES.unavailable.code,
            message: "logic did not answer; retry",
            id: k.value.room,
            retryAfterMs: core.retryHintMs(),
          });
          const value = create(JoinResultSchema, { ok: false, room: k.value.room, frame });
          joins.push(
            create(ReplySchema, {
              eventId: ev.eventId,
              connectionId: conn.id,
              kind: { case: "join", value },
            }),
          );
          break;
        }
        case "send":
          core.unavailable(conn, k.value.clientMsgId);
          break;
        case "presenceQuery":
        case "signal":
        case "readMarker":
          core.unavailable(conn, k.value.room);
          break;
        default:
          break;
      }
    }
    if (joins.length > 0) reply(joins);
  };
}
