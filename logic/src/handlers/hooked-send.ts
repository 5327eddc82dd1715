import type { ClientEvent } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { ERROR_CODES, encodeErrorFrame } from "../../../protocol/index.ts";
import type { GatewayRef } from "../gateway-fleet.ts";
import { HOOK_RETRY_AFTER_MS, type SendOutcome } from "../hooks/hooks.ts";
import type { HandlerContext } from "./handler-context.ts";
import type { EventKind } from "./logic-metrics.ts";

/**
 * Hands an event of a hooked room to the store in the room's arrival order:
 * `store` runs once the Send hook decided (`decision`) and every earlier event
 * of the room was handed over, with the body to store (the hook's rewrite, or
 * undefined for the client's own); a refusal answers the event instead. `id`
 * names the event in error frames.
 */
export function afterSendHook(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  kind: EventKind,
  room: string,
  id: string,
  decision: Promise<SendOutcome>,
  store: (bodyText: string | undefined) => Promise<void>,
): void {
  const settled = decision.then(undefined, (err: unknown): SendOutcome => {
    h.log.error({ err, kind }, "send hook decision failed");
    return { ok: false, refusal: { code: ERROR_CODES.internal.code, message: "internal error" } };
  });
  const queued = h.sequencer.enqueue(room, settled, (out) => {
    if (!out.ok) {
      h.refuseByHook(from, ev, kind, out.refusal, id);
      return;
    }
    store(out.bodyText).catch((err: unknown) => h.internal(from, ev, kind, err));
  });
  if (!queued) {
    h.count(kind, "unavailable");
    h.frame(
      from,
      ev,
      encodeErrorFrame({
        code: ERROR_CODES.unavailable.code,
        message: "too many messages of this room wait for the send hook, retry",
        id,
        retryAfterMs: HOOK_RETRY_AFTER_MS,
      }),
    );
  }
}
