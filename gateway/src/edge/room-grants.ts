import { create } from "@bufbuild/protobuf";
import { LeaveRequestSchema, type Principal } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { encodeLeftFrame } from "../../../protocol/client-frames.ts";
import { PRESENCE_INTEREST_SUFFIX } from "../../../protocol/presence-frames.ts";
import { matchesAny } from "../../../protocol/room-pattern.ts";
import type { Connection } from "./connection.ts";
import type { InboundContext } from "./inbound-context.ts";
import { dropMembership } from "./inbound-presence.ts";

/**
 * A connection keeps a membership only while its token grants read access
 * to the room, or while the team's backend wants it there (a server API
 * Subscribe marks the membership `granted`). Logic decides at each join; when the token changes (a
 * refresh), the read patterns of the principal logic issued for the new
 * token decide here, with the matcher logic uses (protocol/room-pattern.ts),
 * so nothing waits for a round trip and logic still keeps no memberships.
 */
export function grantsRead(p: Principal | undefined, room: string): boolean {
  return p !== undefined && matchesAny(p.read, room);
}

/**
 * Ends a membership the client did not leave: the client gets `left` with
 * the reason, and logic is told as for a leave (its audit and metrics).
 */
export function revokeRoom(ctx: InboundContext, conn: Connection, room: string): void {
  dropMembership(ctx, conn, room);
  ctx.metrics.roomsRevoked.inc();
  ctx.send(conn, encodeLeftFrame(room, "forbidden"));
  ctx.sendEvent(conn, { case: "leave", value: create(LeaveRequestSchema, { room }) }, room);
}

/** After the connection's principal changed: every room it no longer grants is revoked (joins in flight included). */
export function revokeUngrantedRooms(ctx: InboundContext, conn: Connection): void {
  if (conn.rooms === null) return;
  const revoked: string[] = [];
  for (const room of conn.rooms.keys()) {
    // A presence opt-in goes with its room.
    if (room.endsWith(PRESENCE_INTEREST_SUFFIX)) continue;
    if (conn.rooms.get(room)?.granted !== true && !grantsRead(conn.principal, room)) revoked.push(room);
  }
  for (const room of revoked) revokeRoom(ctx, conn, room);
}
