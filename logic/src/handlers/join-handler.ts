import type { ClientEvent, JoinRequest, Principal } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { ERROR_CODES, encodeErrorFrame, encodeJoinedFrame } from "../../../protocol/index.ts";
import { matchesAny } from "../../../protocol/room-pattern.ts";
import type { GatewayRef } from "../gateway-fleet.ts";
import type { MessageStore } from "../store/message-store.ts";
import { StoreError } from "../store/store-error.ts";
import { type HandlerContext, storeErrorFrame, validRoom } from "./handler-context.ts";
import type { EventResult } from "./logic-metrics.ts";
import { eventFrame } from "./stored-event.ts";

/** Largest history page a join returns, in bytes of message frames (the rest comes as the next page). */
export const JOIN_PAGE_MAX_BYTES = 256 * 1024;

/**
 * A join (or a resume with `since`): checked (room, read access, the Join hook
 * where enabled), answered with a JoinResult carrying a history page as one
 * `joined` frame and the page's last seq, below which the gateway drops live
 * deliveries for this member. Logic keeps no membership: the gateway's room
 * index is the truth. A connection the server subscribed (`granted`) skips the
 * read check and the hook: the backend decided.
 */
export async function handleJoin(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  req: JoinRequest,
  p: Principal,
): Promise<void> {
  const room = req.room;
  const refuse = (result: EventResult, frame: Uint8Array): void => {
    h.count("join", result);
    h.reply(from, ev, { case: "join", value: { ok: false, room, frame } });
  };
  const error = (code: string, message: string) => encodeErrorFrame({ code, message, id: room });
  if (!validRoom(room)) return refuse("invalid", error(ERROR_CODES.invalidField.code, "invalid room name"));
  if (!req.granted && !matchesAny(p.read, room))
    return refuse("denied", error(ERROR_CODES.forbidden.code, "no read access to room"));
  let dataJson: string | undefined;
  if (!req.granted && h.hooks?.joins(room)) {
    const out = await h.hooks.join(h.caller(from, ev, p), room, req.since);
    if (!out.ok) {
      const r = out.refusal;
      return refuse(
        r.retryAfterMs === undefined ? "denied" : "unavailable",
        encodeErrorFrame({ code: r.code, message: r.message, id: room, retryAfterMs: r.retryAfterMs }),
      );
    }
    dataJson = out.dataJson;
  }
  const max = h.limits.maxHistoryPage;
  const limit = req.limit === 0 ? max : Math.min(req.limit, max);
  const since = req.since === undefined ? undefined : Number(req.since);
  let page: Awaited<ReturnType<MessageStore["read"]>>;
  try {
    page = await h.store.read(room, since === undefined ? { limit } : { since, limit });
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    return refuse(err.retryable ? "unavailable" : "invalid", storeErrorFrame(err, room, h.admission));
  }
  // The page is also bounded in bytes: a page of large messages would
  // otherwise exceed the joiner's send queue (a slow-consumer close on join)
  // or the push stream's frame limit. What does not fit follows as the next
  // page (complete: false), which clients fetch by joining again from lastSeq.
  const messages: Uint8Array[] = [];
  let pageBytes = 0;
  for (const m of page.messages) {
    const frame = eventFrame(m);
    if (messages.length > 0 && pageBytes + frame.byteLength > JOIN_PAGE_MAX_BYTES) break;
    messages.push(frame);
    pageBytes += frame.byteLength;
  }
  const truncated = messages.length < page.messages.length;
  const lastSeq = page.messages[messages.length - 1]?.seq ?? since ?? page.headSeq;
  h.metrics.historyReads.inc({ source: "join" });
  h.metrics.historyMessages.observe(messages.length);
  h.count("join", "ok");
  h.reply(from, ev, {
    case: "join",
    value: {
      ok: true,
      room,
      lastSeq: BigInt(lastSeq),
      frame: encodeJoinedFrame({ room, lastSeq, complete: page.complete && !truncated, messages, dataJson }),
    },
  });
}
