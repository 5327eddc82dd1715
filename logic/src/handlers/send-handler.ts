import type { ClientEvent, Principal, SendRequest } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { encodeAckFrame } from "../../../protocol/index.ts";
import type { GatewayRef } from "../gateway-fleet.ts";
import type { HandlerContext } from "./handler-context.ts";
import { afterSendHook } from "./hooked-send.ts";
import { storeEvent } from "./store-event.ts";
import { checkWrite } from "./write-checks.ts";

/**
 * A send: checked (room, id, write access, size, UTF-8), passed through the
 * Send hook where enabled (in the room's order; the hook may refuse it or
 * rewrite its body), stored with the client message id as the dedupe id,
 * fanned out to the room's gateways as one frame encoded once, and
 * acknowledged to the sender. Idempotent through the store's deduplication,
 * so a gateway may resend an unanswered send to another logic process.
 */
export function handleSend(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  req: SendRequest,
  p: Principal,
): Promise<void> | void {
  const { room, clientMsgId: id } = req;
  const bodyText = checkWrite(h, from, ev, "send", { room, id, body: req.body }, p);
  if (bodyText === undefined) return;
  // A resend of what this process stored and delivered: acked again, no store call.
  const stored = h.recent.get(room, id);
  if (stored !== undefined && stored.from === p.userId) {
    h.metrics.sendsFromRecent.inc();
    h.count("send", "duplicate");
    h.frame(from, ev, encodeAckFrame({ id, room, seq: stored.seq }));
    return;
  }
  if (h.hooks?.sends(room)) {
    const decision = h.hooks.send(h.caller(from, ev, p), room, id, bodyText, 0n);
    afterSendHook(h, from, ev, "send", room, id, decision, (rewritten) =>
      storeEvent(
        h,
        from,
        ev,
        "send",
        { id, from: p.userId, body: rewritten ?? bodyText },
        room,
        rewritten ?? req.body,
      ),
    );
    return;
  }
  return storeEvent(h, from, ev, "send", { id, from: p.userId, body: bodyText }, room, req.body);
}
