import type {
  ClientEvent,
  DeleteRequest,
  EditRequest,
  Principal,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { ERROR_CODES } from "../../../protocol/index.ts";
import type { GatewayRef } from "../gateway-fleet.ts";
import { HOOK_RETRY_AFTER_MS, type SendOutcome } from "../hooks/hooks.ts";
import { currentMessage, editProblem } from "../store/current-message.ts";
import { StoreError } from "../store/store-error.ts";
import type { HandlerContext } from "./handler-context.ts";
import { afterSendHook } from "./hooked-send.ts";
import { storeEvent } from "./store-event.ts";
import { checkWrite } from "./write-checks.ts";

/** Checked like a send, and the target a seq; undefined after refusing the event. */
function checkEvent(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  kind: "edit" | "delete",
  req: { room: string; clientMsgId: string; target: bigint; body?: Uint8Array },
  p: Principal,
): { bodyText: string; target: number } | undefined {
  const id = req.clientMsgId;
  const bodyText = checkWrite(
    h,
    from,
    ev,
    kind,
    { room: req.room, id, ...(req.body ? { body: req.body } : {}) },
    p,
  );
  if (bodyText === undefined) return undefined;
  if (req.target < 1n || req.target > BigInt(Number.MAX_SAFE_INTEGER)) {
    h.refuse(from, ev, kind, "invalid", ERROR_CODES.invalidField.code, "invalid target", id);
    return undefined;
  }
  return { bodyText, target: Number(req.target) };
}

/**
 * Whether the author may edit or delete the message now: it exists in the
 * room, is not deleted, and is theirs. Resolves with a refusal (an outcome
 * the Send hook path understands) or ok; a store failure is a retryable one.
 */
async function authorCheck(
  h: HandlerContext,
  room: string,
  target: number,
  user: string,
): Promise<SendOutcome> {
  try {
    const m = await currentMessage(h.store, room, target);
    const problem = editProblem(m, target);
    if (problem !== undefined) return { ok: false, refusal: problem };
    if (m?.from !== user) {
      return {
        ok: false,
        refusal: { code: ERROR_CODES.forbidden.code, message: "only the author may change a message" },
      };
    }
    return { ok: true };
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    return {
      ok: false,
      refusal: {
        code: ERROR_CODES.unavailable.code,
        message: "store unavailable, retry",
        retryAfterMs: HOOK_RETRY_AFTER_MS,
      },
    };
  }
}

/**
 * An author's edit of one of their messages: checked like a send, then the
 * target (theirs, not deleted), then the Send hook where enabled (it sees
 * edit_of and may refuse or rewrite the new body, in the room's order), then
 * stored as a new event of the room's sequence and fanned out.
 */
export function handleEdit(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  req: EditRequest,
  p: Principal,
): Promise<void> | void {
  const { room, clientMsgId: id } = req;
  const valid = checkEvent(h, from, ev, "edit", req, p);
  if (valid === undefined) return;
  const { bodyText, target } = valid;
  const checked = authorCheck(h, room, target, p.userId);
  const store = (rewritten: string | undefined) =>
    storeEvent(
      h,
      from,
      ev,
      "edit",
      { id, from: p.userId, body: rewritten ?? bodyText, kind: "edit", target },
      room,
      rewritten ?? req.body,
    );
  if (h.hooks?.sends(room)) {
    const hooks = h.hooks;
    const decision = checked.then((c) =>
      c.ok ? hooks.send(h.caller(from, ev, p), room, id, bodyText, req.target) : c,
    );
    afterSendHook(h, from, ev, "edit", room, id, decision, store);
    return;
  }
  return checked.then((c) => (c.ok ? store(undefined) : h.refuseByHook(from, ev, "edit", c.refusal, id)));
}

/**
 * An author's delete of one of their messages: checked like an edit (no hook
 * call: there is no body to judge, but it keeps its place in a hooked room's
 * order), then stored as a new event of the room's sequence and fanned out.
 */
export function handleDelete(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  req: DeleteRequest,
  p: Principal,
): Promise<void> | void {
  const { room, clientMsgId: id } = req;
  const valid = checkEvent(h, from, ev, "delete", req, p);
  if (valid === undefined) return;
  const target = valid.target;
  const checked = authorCheck(h, room, target, p.userId);
  const store = () =>
    storeEvent(
      h,
      from,
      ev,
      "delete",
      { id, from: p.userId, body: "null", kind: "delete", target },
      room,
      "null",
    );
  if (h.hooks?.sends(room)) {
    afterSendHook(h, from, ev, "delete", room, id, checked, store);
    return;
  }
  return checked.then((c) => (c.ok ? store() : h.refuseByHook(from, ev, "delete", c.refusal, id)));
}
