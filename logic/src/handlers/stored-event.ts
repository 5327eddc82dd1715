import { encodeMessageFrame } from "../../../protocol/index.ts";
import type { StoredMessage } from "../store/message-store.ts";
import type { HandlerContext } from "./handler-context.ts";

/** The `message` frame of a stored event (a message, an edit or a delete), encoded once. */
export function eventFrame(m: StoredMessage): Uint8Array {
  return encodeMessageFrame({
    room: m.room,
    seq: m.seq,
    prev: m.prev,
    id: m.id,
    from: m.from,
    ts: m.ts,
    ...(m.kind === "message" ? {} : { kind: m.kind, target: m.target }),
    bodyJson: m.body,
  });
}

/**
 * Delivers again the stored event at `seq` (a resend the store deduplicated:
 * the first delivery may have been lost with the process that made it), as
 * history has it. False when it cannot be read back: the event is stored, and
 * a member that missed it resumes from history.
 */
export async function redeliver(h: HandlerContext, room: string, seq: number): Promise<boolean> {
  const stored = await h.store.read(room, { since: seq - 1, limit: 1 }).then(
    (page) => page.messages.find((m) => m.seq === seq),
    () => undefined,
  );
  if (stored === undefined) return false;
  h.fleet.deliverToRoom(room, BigInt(seq), eventFrame(stored));
  h.metrics.messagesDelivered.inc();
  return true;
}
