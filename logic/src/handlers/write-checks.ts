import type { ClientEvent, Principal } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { ERROR_CODES, PROTOCOL_BOUNDS } from "../../../protocol/index.ts";
import { matchesAny } from "../../../protocol/room-pattern.ts";
import type { GatewayRef } from "../gateway-fleet.ts";
import { messageIdProblem } from "../store/input-checks.ts";
import { type HandlerContext, validRoom } from "./handler-context.ts";
import type { EventKind } from "./logic-metrics.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * What every event that writes to a room's sequence (send, edit, delete)
 * must pass: a valid room and id, write access, and for a body its size
 * limit and UTF-8. Returns the body as text ("" without a body), or
 * undefined after refusing the event with the error naming `id`.
 */
export function checkWrite(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  kind: EventKind,
  w: { room: string; id: string; body?: Uint8Array },
  p: Principal,
): string | undefined {
  const { room, id, body } = w;
  const invalid = (message: string): undefined => {
    h.refuse(from, ev, kind, "invalid", ERROR_CODES.invalidField.code, message, id);
    return undefined;
  };
  if (!validRoom(room)) return invalid("invalid room name");
  if (messageIdProblem(id) !== undefined || id.length > PROTOCOL_BOUNDS.maxClientMsgIdLength)
    return invalid("invalid message id");
  if (!matchesAny(p.write, room)) {
    h.refuse(from, ev, kind, "denied", ERROR_CODES.forbidden.code, "no write access to room", id);
    return undefined;
  }
  if (body === undefined) return "";
  if (body.byteLength > h.limits.maxBodyBytes) {
    const message = `body larger than ${h.limits.maxBodyBytes} bytes`;
    h.refuse(from, ev, kind, "invalid", ERROR_CODES.bodyTooLarge.code, message, id);
    return undefined;
  }
  try {
    return decoder.decode(body);
  } catch {
    return invalid("body is not UTF-8");
  }
}
