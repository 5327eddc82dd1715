import type { ClientEvent, Principal, SignalRequest } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { ERROR_CODES } from "../../../protocol/index.ts";
import {
  encodeSignalFrame,
  PRESENCE_BOUNDS,
  SIGNAL_KIND_PATTERN,
} from "../../../protocol/presence-frames.ts";
import { matchesAny } from "../../../protocol/room-pattern.ts";
import type { GatewayRef } from "../gateway-fleet.ts";
import { type HandlerContext, validRoom } from "./handler-context.ts";

/**
 * An ephemeral signal (typing, custom kinds) for the room's members, from a
 * sender who may write the room: never stored, fanned out like a message
 * with seq 0 (docs/presence.md).
 */
export function handleSignal(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  s: SignalRequest,
  p: Principal,
): void {
  const room = s.room;
  const problem =
    !validRoom(room) || !SIGNAL_KIND_PATTERN.test(s.signalKind)
      ? "invalid room or signal kind"
      : s.body.byteLength > PRESENCE_BOUNDS.maxSignalBodyBytes
        ? "signal body too large"
        : undefined;
  if (problem !== undefined) {
    h.refuse(from, ev, "signal", "invalid", ERROR_CODES.invalidField.code, problem, room);
    return;
  }
  if (!matchesAny(p.write, room)) {
    h.refuse(from, ev, "signal", "denied", ERROR_CODES.forbidden.code, "no write access to room", room);
    return;
  }
  h.fleet.deliverToRoom(
    room,
    0n,
    encodeSignalFrame({
      room,
      kind: s.signalKind,
      from: p.userId,
      connection: s.connection,
      bodyJson: s.body,
    }),
  );
  h.done(from, ev, "signal", "ok");
}
