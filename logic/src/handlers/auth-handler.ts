import { create } from "@bufbuild/protobuf";
import {
  type AuthRequest,
  type ClientEvent,
  PrincipalSchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { AuthError } from "../auth/auth-error.ts";
import type { GatewayRef } from "../gateway-fleet.ts";
import type { HandlerContext } from "./handler-context.ts";

/**
 * An auth (a new connection) or a token refresh (a live one): the token is
 * verified and the answer is the Principal the gateway attaches to every
 * later event of the connection, signed for that connection (docs/logic.md),
 * or a refusal with its close code. A refresh must name the same user.
 */
export async function handleAuth(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  req: AuthRequest,
): Promise<void> {
  const m = h.metrics;
  try {
    const id = await h.auth.verify(req.token);
    if (req.refresh && ev.principal !== undefined && ev.principal.userId !== id.userId) {
      throw new AuthError("subject_mismatch", "a refreshed token must name the same user");
    }
    m.authResults.inc({ result: "ok", reason: "ok" });
    h.count("auth", "ok");
    const principal = create(PrincipalSchema, {
      userId: id.userId,
      read: [...id.read],
      write: [...id.write],
      expiresAtMs: BigInt(id.expiresAtMs),
    });
    h.principals.sign(principal, from, ev.connectionId);
    h.reply(from, ev, { case: "auth", value: { ok: true, principal } });
  } catch (err) {
    if (!(err instanceof AuthError)) throw err;
    m.authResults.inc({ result: "error", reason: err.code });
    h.count("auth", err.code === "key_unavailable" ? "error" : "denied");
    if (err.code === "key_unavailable") h.log.error({ err: err.cause }, "token verification failed");
    h.reply(from, ev, {
      case: "auth",
      value: { ok: false, errorCode: err.code, errorMessage: err.reason, closeCode: err.closeCode },
    });
  }
}
