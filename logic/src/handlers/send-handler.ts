import type { ClientEvent, Principal, SendRequest } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import {
  ERROR_CODES,
  encodeAckFrame,
  encodeErrorFrame,
  encodeMessageFrame,
  PROTOCOL_BOUNDS,
} from "../../../protocol/index.ts";
import { matchesAny } from "../../../protocol/room-pattern.ts";
import type { GatewayRef } from "../gateway-fleet.ts";
import { messageIdProblem } from "../store/input-checks.ts";
import type { MessageStore } from "../store/message-store.ts";
import { type HandlerContext, validRoom } from "./handler-context.ts";
import { afterSendHook } from "./hooked-send.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

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
  const invalid = (message: string) =>
    h.refuse(from, ev, "send", "invalid", ERROR_CODES.invalidField.code, message, id);
  if (!validRoom(room)) return invalid("invalid room name");
  if (messageIdProblem(id) !== undefined || id.length > PROTOCOL_BOUNDS.maxClientMsgIdLength)
    return invalid("invalid message id");
  if (!matchesAny(p.write, room))
    return h.refuse(from, ev, "send", "denied", ERROR_CODES.forbidden.code, "no write access to room", id);
  if (req.body.byteLength > h.limits.maxBodyBytes) {
    return h.refuse(
      from,
      ev,
      "send",
      "invalid",
      ERROR_CODES.bodyTooLarge.code,
      `body larger than ${h.limits.maxBodyBytes} bytes`,
      id,
    );
  }
  let bodyText: string;
  try {
    bodyText = decoder.decode(req.body);
  } catch {
    return invalid("body is not UTF-8");
  }
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
      storeSend(
        h,
        from,
        ev,
        p,
        room,
        id,
        rewritten ?? bodyText,
        rewritten === undefined ? req.body : rewritten,
      ),
    );
    return;
  }
  return storeSend(h, from, ev, p, room, id, bodyText, req.body);
}

/**
 * Appends (the store call happens before the first await, so calls made in
 * order reach the store in order), delivers and acks. `bodyJson` is the body
 * as bytes to splice into the frame: the gateway's, unless a hook rewrote it.
 */
async function storeSend(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  p: Principal,
  room: string,
  id: string,
  bodyText: string,
  bodyJson: Uint8Array | string,
): Promise<void> {
  const invalid = (message: string) =>
    h.refuse(from, ev, "send", "invalid", ERROR_CODES.invalidField.code, message, id);
  const now = performance.now();
  const shed = h.admission.admit(room, now);
  if (shed !== undefined) {
    h.metrics.sendsShed.labels({ scope: shed.scope }).inc();
    h.count("send", "unavailable");
    h.frame(
      from,
      ev,
      encodeErrorFrame({
        code: ERROR_CODES.unavailable.code,
        message: "server overloaded, retry",
        id,
        retryAfterMs: shed.retryAfterMs,
      }),
    );
    return;
  }
  // Delivery latency (docs/metrics.md) is measured from here: the store's time counts.
  const acceptedAtMs = performance.timeOrigin + now;
  let r: Awaited<ReturnType<MessageStore["append"]>>;
  h.admission.begin(room, now);
  try {
    r = await h.store.append(room, { id, from: p.userId, body: bodyText });
  } catch (err) {
    return h.storeFailure(from, ev, "send", err, id);
  } finally {
    const end = performance.now();
    h.admission.end(room, now, end);
    h.metrics.appendQueueDelay.set((end - now) / 1000);
  }
  // Ids are unique per sender; another user's message with this id must not be acked as ours.
  if (r.duplicate && r.from !== p.userId) return invalid("id already used in this room by another sender");
  // Encoded once; every gateway and every socket gets these bytes. A resend
  // (duplicate) is delivered again, clients drop seqs they already have, and
  // it carries the stored body: a resend with another body must not show
  // recipients something history does not have.
  if (r.duplicate) {
    const stored = await h.store.read(room, { since: r.seq - 1, limit: 1 }).then(
      (page) => page.messages.find((m) => m.seq === r.seq),
      () => undefined,
    );
    if (stored === undefined) {
      // Acknowledge without delivering: the message is stored, and a
      // recipient that missed it resumes from history.
      h.metrics.duplicates.inc();
      h.count("send", "duplicate");
      h.frame(from, ev, encodeAckFrame({ id, room, seq: r.seq }));
      return;
    }
    bodyJson = stored.body;
  }
  const frame = encodeMessageFrame({
    room,
    seq: r.seq,
    prev: r.prev,
    id,
    from: p.userId,
    ts: r.ts,
    bodyJson,
  });
  h.fleet.deliverToRoom(room, BigInt(r.seq), frame, acceptedAtMs);
  h.recent.remember(room, id, { seq: r.seq, from: r.from });
  h.metrics.messagesDelivered.inc();
  if (r.duplicate) h.metrics.duplicates.inc();
  h.count("send", r.duplicate ? "duplicate" : "ok");
  h.frame(from, ev, encodeAckFrame({ id, room, seq: r.seq }));
}
