import type { AuthResult, JoinResult, Reply } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { encodeErrorFrame, encodeWelcomeFrame } from "../../../protocol/client-frames.ts";
import { CLOSE_CODES } from "../../../protocol/close-codes.ts";
import { userInterestKey } from "../../../protocol/presence-frames.ts";
import type { Connection } from "./connection.ts";
import type { EdgeCore } from "./edge-core.ts";
import { dropMembership } from "./inbound-presence.ts";
import { grantsRead, revokeRoom, revokeUngrantedRooms } from "./room-grants.ts";

/**
 * EdgeSink.reply for one edge: each Reply from logic acts on its connection
 * (if it is still open). An auth result authenticates (welcome) or closes (a
 * refresh also ends the memberships the new token does not grant), and is
 * dropped (counted) when the connection has no auth in flight; a join result
 * writes the joined frame, then the live deliveries held while the join was
 * in flight; a frame is written as it is; a close closes.
 */
export function createReplyHandler(core: EdgeCore): (replies: readonly Reply[]) => void {
  const { limits, link, sched } = core;
  const wireLimits = Object.freeze({
    max_frame_bytes: limits.maxFrameBytes,
    messages_per_second: limits.messagesPerSecond,
    message_burst: limits.messageBurst,
    max_rooms: limits.maxRoomsPerConnection,
  });

  function onAuthResult(conn: Connection, res: AuthResult): void {
    conn.authInFlight = false;
    if (res.ok && res.principal) {
      conn.principal = res.principal;
      conn.expiresAtMs = Number(res.principal.expiresAtMs);
      const refreshed = conn.state === "open";
      if (conn.state === "authenticating") {
        conn.state = "open";
        core.settleAuth(conn);
        // Indexed under its user too, so the user's other devices can be told (read markers).
        if (core.users.add(conn, res.principal.userId)) link.roomAdded(userInterestKey(res.principal.userId));
      }
      core.send(
        conn,
        encodeWelcomeFrame({
          user: res.principal.userId,
          connection_id: `${core.gatewayId}/${conn.id}`,
          heartbeat_ms: limits.heartbeatMs,
          limits: wireLimits,
        }),
      );
      if (refreshed) revokeUngrantedRooms(core, conn);
      return;
    }
    const code = res.errorCode || CLOSE_CODES.unauthorized.name;
    core.send(conn, encodeErrorFrame({ code, message: res.errorMessage || "authentication failed" }));
    const close = res.closeCode
      ? { ...CLOSE_CODES.unauthorized, code: res.closeCode }
      : CLOSE_CODES.unauthorized;
    core.closeConn(conn, close, code.slice(0, 100));
  }

  function onJoinResult(conn: Connection, res: JoinResult): void {
    // Logic accepted the join for the token the connection had when it asked;
    // a refresh since may have taken the room away: its page is not written.
    const m = conn.membership(res.room);
    // A membership the team's backend made (server API Subscribe) needs no read grant.
    const granted = m?.granted === true || grantsRead(conn.principal, res.room);
    if (res.frame.byteLength > 0 && (granted || !res.ok)) core.send(conn, res.frame);
    if (!m) return;
    const held = m.held;
    m.held = null;
    if (!granted && (res.ok || m.present)) {
      revokeRoom(core, conn, res.room);
      return;
    }
    if (!res.ok) {
      // A failed resume of a room logic had already accepted, and the token
      // still grants, keeps the membership (the client is still in the room
      // and retries); a first join that failed leaves the room.
      if (!m.present) {
        dropMembership(core, conn, res.room);
        return;
      }
    } else {
      if (!m.present && conn.principal) {
        m.present = true;
        core.presence.add(res.room, conn.principal.userId);
      }
      // Never below what the socket was already sent (a join again of a room it is in).
      m.floor = Math.max(m.floor, Number(res.lastSeq));
    }
    if (held !== null)
      for (const h of held) {
        if (h.seq !== 0 && h.seq <= m.floor) continue;
        sched.enqueue(conn, h.frame);
        if (h.seq !== 0) m.floor = h.seq;
      }
  }

  return (replies) => {
    for (const r of replies) {
      const conn = core.conns.get(r.connectionId);
      if (conn === undefined || conn.state === "closing" || conn.state === "closed") continue;
      switch (r.kind.case) {
        case "auth":
          // The link matched the reply to a pending auth event; this is the
          // edge's own check that the connection is waiting for one.
          if (conn.authInFlight) onAuthResult(conn, r.kind.value);
          else core.metrics.drops.inc({ reason: "unexpected_auth_reply" });
          break;
        case "join":
          onJoinResult(conn, r.kind.value);
          break;
        case "frame":
          core.send(conn, r.kind.value);
          break;
        case "close": {
          const c = r.kind.value;
          const known = { ...CLOSE_CODES.overloaded, code: c.closeCode || CLOSE_CODES.overloaded.code };
          core.closeConn(conn, known, c.reason);
          break;
        }
        default:
          break;
      }
    }
  };
}
