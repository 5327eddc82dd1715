import type {
  ClientEvent,
  Principal,
  ReadMarkerRequest,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import {
  encodeReadEventFrame,
  encodeReadsPageFrame,
  PRESENCE_BOUNDS,
  userInterestKey,
} from "../../../protocol/presence-frames.ts";
import type { GatewayRef } from "../gateway-fleet.ts";
import type { HandlerContext } from "./handler-context.ts";

/**
 * Read markers (docs/presence.md), for members who may read the room: seq 0
 * asks for stored markers (answered to the connection); a positive seq moves
 * the user's marker forward in the store and tells the room, or only the
 * user's own connections (`notify: self`).
 */
export async function handleReadMarker(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  r: ReadMarkerRequest,
  p: Principal,
): Promise<void> {
  const room = r.room;
  if (!h.mayRead(from, ev, "readMarker", room, p)) return;
  if (r.seq === 0n) {
    const users = r.users.length > 0 ? r.users.slice(0, PRESENCE_BOUNDS.maxReadsUsers) : [p.userId];
    let markers: Map<string, number>;
    try {
      markers = await h.store.getReadMarkers(room, users);
    } catch (err) {
      return h.storeFailure(from, ev, "readMarker", err, room);
    }
    h.count("readMarker", "ok");
    h.frame(from, ev, encodeReadsPageFrame(room, markers));
    return;
  }
  let seq: number;
  try {
    seq = await h.store.setReadMarker(room, p.userId, Number(r.seq));
  } catch (err) {
    return h.storeFailure(from, ev, "readMarker", err, room);
  }
  h.fleet.deliverToRoom(
    r.notify === "self" ? userInterestKey(p.userId) : room,
    0n,
    encodeReadEventFrame({ room, user: p.userId, seq }),
  );
  h.done(from, ev, "readMarker", "ok");
}
