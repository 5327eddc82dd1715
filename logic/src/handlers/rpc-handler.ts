import type { ClientEvent, Principal, RpcRequest } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { CALL_BOUNDS, ERROR_CODES, encodeResultFrame, METHOD_PATTERN } from "../../../protocol/index.ts";
import type { GatewayRef } from "../gateway-fleet.ts";
import type { HandlerContext } from "./handler-context.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * A client's `call`: a method the Rpc hook answers (`--hook-rpc-methods`)
 * goes to the team's backend, whose answer (a `result`, or an `error` with
 * its code) goes back to this connection only; any other method is
 * `not_found`. Errors name the call id.
 */
export async function handleRpc(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  req: RpcRequest,
  p: Principal,
): Promise<void> {
  const { callId: id, method } = req;
  if (id.length === 0 || id.length > CALL_BOUNDS.maxCallIdLength || !METHOD_PATTERN.test(method))
    return h.refuse(
      from,
      ev,
      "rpc",
      "invalid",
      ERROR_CODES.invalidField.code,
      "invalid call id or method",
      id,
    );
  if (h.hooks === undefined || !h.hooks.answers(method))
    return h.refuse(from, ev, "rpc", "invalid", ERROR_CODES.notFound.code, `no method "${method}"`, id);
  let params: string;
  try {
    params = decoder.decode(req.params);
  } catch {
    return h.refuse(from, ev, "rpc", "invalid", ERROR_CODES.invalidField.code, "params are not UTF-8", id);
  }
  const out = await h.hooks.rpc(h.caller(from, ev, p), method, params);
  if (!out.ok) return h.refuseByHook(from, ev, "rpc", out.refusal, id);
  h.count("rpc", "ok");
  h.frame(from, ev, encodeResultFrame(id, out.resultJson));
}
