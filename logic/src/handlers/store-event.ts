import type { ClientEvent } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import {
  ERROR_CODES,
  encodeAckFrame,
  encodeErrorFrame,
  encodeMessageFrame,
} from "../../../protocol/index.ts";
import type { GatewayRef } from "../gateway-fleet.ts";
import type { AppendInput, AppendResult } from "../store/message-store.ts";
import type { HandlerContext } from "./handler-context.ts";
import type { EventKind } from "./logic-metrics.ts";
import { redeliver } from "./stored-event.ts";

/**
 * Stores a client's event of the room's sequence (a message, an edit, a
 * delete), fans its `message` frame out to the room's gateways, encoded once,
 * and acks the sender. The store call happens before the first await, so
 * calls made in order reach the store in order. `bodyJson` is the body as
 * bytes to splice into the frame: the gateway's, unless a hook rewrote it.
 * Admitted by the room's append queue delay (a shed event gets a retryable
 * `unavailable`). A resend the store deduplicated is delivered again as history has it (a
 * resend with another body must not show recipients something history does
 * not have); clients drop seqs they already have.
 */
export async function storeEvent(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  kind: EventKind,
  input: AppendInput,
  room: string,
  bodyJson: Uint8Array | string,
): Promise<void> {
  const id = input.id;
  const now = performance.now();
  const shed = h.admission.admit(room, now);
  if (shed !== undefined) {
    h.metrics.sendsShed.labels({ scope: shed.scope }).inc();
    h.count(kind, "unavailable");
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
  let r: AppendResult;
  h.admission.begin(room, now);
  try {
    r = await h.store.append(room, input);
  } catch (err) {
    return h.storeFailure(from, ev, kind, err, id);
  } finally {
    const end = performance.now();
    h.admission.end(room, now, end);
    h.metrics.appendQueueDelay.set((end - now) / 1000);
  }
  // Ids are unique per sender; another user's event with this id must not be acked as ours.
  if (r.duplicate && r.from !== input.from) {
    return h.refuse(
      from,
      ev,
      kind,
      "invalid",
      ERROR_CODES.invalidField.code,
      "id already used in this room by another sender",
      id,
    );
  }
  if (r.duplicate) {
    await redeliver(h, room, r.seq);
    h.metrics.duplicates.inc();
  } else {
    const frame = encodeMessageFrame({
      room,
      seq: r.seq,
      prev: r.prev,
      id,
      from: input.from,
      ts: r.ts,
      kind: input.kind,
      target: input.target,
      bodyJson,
    });
    h.fleet.deliverToRoom(room, BigInt(r.seq), frame, acceptedAtMs);
    h.metrics.messagesDelivered.inc();
  }
  h.recent.remember(room, id, { seq: r.seq, from: r.from });
  h.count(kind, r.duplicate ? "duplicate" : "ok");
  h.frame(from, ev, encodeAckFrame({ id, room, seq: r.seq }));
}
