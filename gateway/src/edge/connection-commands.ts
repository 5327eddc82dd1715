import type { ConnectionCommand, Delivery } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { CLOSE_CODES } from "../../../protocol/close-codes.ts";
import { USER_INTEREST_PREFIX } from "../../../protocol/presence-frames.ts";
import type { Connection } from "./connection.ts";
import type { EdgeCore } from "./edge-core.ts";
import { dropMembership } from "./inbound-presence.ts";

/**
 * Applies a server API command (Delivery.command) to the local connections
 * under its interest key: `#user:<id>` (every connection of the user) or ""
 * (every connection of this gateway), narrowed to one connection or one token
 * id when the command says so. Each connection reached first gets the
 * delivery's payload (the `subscribed`, `unsubscribed` or `disconnect` frame
 * logic built once), then the command acts on it:
 *
 * - subscribe: a membership as after a join, with live deliveries from
 *   last_seq on; marked `granted`, so the connection's later joins of the
 *   room (resumes after a gap) skip logic's read check.
 * - unsubscribe: the membership ends as after a leave.
 * - disconnect: the connection closes with the command's code.
 */
export function createCommandHandler(core: EdgeCore): (d: Delivery) => void {
  const { metrics, limits } = core;

  function targets(key: string, c: ConnectionCommand): Connection[] {
    if (c.connectionId !== 0) {
      if (c.gatewayId !== core.gatewayId) return [];
      const conn = core.conns.get(c.connectionId);
      return conn === undefined || !matches(conn, key, c) ? [] : [conn];
    }
    const out: Connection[] = [];
    if (key === "") {
      for (const conn of core.conns.values()) if (matches(conn, key, c)) out.push(conn);
    } else if (key.startsWith(USER_INTEREST_PREFIX)) {
      core.users.forEach(key.slice(USER_INTEREST_PREFIX.length), (conn) => {
        if (matches(conn, key, c)) out.push(conn);
      });
    }
    return out;
  }

  function subscribe(conn: Connection, room: string, lastSeq: number): boolean {
    const existing = conn.membership(room);
    if (existing !== undefined) {
      existing.granted = true;
      return true;
    }
    if ((conn.rooms?.size ?? 0) - conn.presenceOptIns >= limits.maxRoomsPerConnection) return false;
    const { membership, created } = core.index.add(conn, room);
    membership.floor = lastSeq;
    membership.granted = true;
    if (created) core.link.roomAdded(room);
    if (conn.principal !== undefined) {
      membership.present = true;
      core.presence.add(room, conn.principal.userId);
    }
    return true;
  }

  return (d) => {
    const c = d.command as ConnectionCommand;
    const kind = c.kind;
    if (kind.case === undefined) return;
    for (const conn of targets(d.room, c)) {
      if (kind.case === "subscribe" && !subscribe(conn, kind.value.room, Number(kind.value.lastSeq)))
        continue;
      if (kind.case === "unsubscribe" && conn.membership(kind.value.room) === undefined) continue;
      if (d.payload.byteLength > 0) core.send(conn, d.payload);
      if (kind.case === "unsubscribe") dropMembership(core, conn, kind.value.room);
      else if (kind.case === "disconnect") {
        const code = kind.value.closeCode || CLOSE_CODES.disconnected.code;
        core.closeConn(conn, { ...CLOSE_CODES.disconnected, code }, kind.value.reason);
      }
      metrics.commands.inc({ command: kind.case });
    }
  };
}

/** An open connection the command may reach: under the key, with the token id asked for. */
function matches(conn: Connection, key: string, c: ConnectionCommand): boolean {
  if (conn.state !== "open" || conn.principal === undefined) return false;
  if (key !== "" && key !== `${USER_INTEREST_PREFIX}${conn.principal.userId}`) return false;
  return c.tokenId === "" || conn.principal.tokenId === c.tokenId;
}
