import { create } from "@bufbuild/protobuf";
import {
  type AuthRequest,
  type ClientEvent,
  PrincipalSchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { AuthError } from "../auth/auth-error.ts";
import type { Identity } from "../auth/authenticator.ts";
import type { GatewayRef } from "../gateway-fleet.ts";
import type { ConnectOutcome } from "../hooks/hooks.ts";
import type { HandlerContext } from "./handler-context.ts";

/**
 * An auth (a new connection) or a token refresh (a live one): the token is
 * verified (and, with a Connect hook, decided by the team's backend after or
 * instead of that) and the answer is the Principal the gateway attaches to
 * every later event of the connection, signed for that connection
 * (docs/logic.md), or a refusal with its close code. A refresh must name the
 * same user.
 */
export async function handleAuth(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  req: AuthRequest,
): Promise<void> {
  const m = h.metrics;
  const refuse = (reason: string, code: string, message: string, closeCode: number): void => {
    m.authResults.inc({ result: "error", reason });
    h.reply(from, ev, {
      case: "auth",
      value: { ok: false, errorCode: code, errorMessage: message, closeCode },
    });
  };
  let id: Identity;
  try {
    const mode = h.hooks?.connectMode ?? "off";
    const verified = mode === "instead" ? undefined : await h.auth.verify(req.token);
    if (h.hooks !== undefined && mode !== "off") {
      const out: ConnectOutcome = await h.hooks.connect(req.token, req.remoteAddress, req.refresh, verified);
      if (!out.ok) {
        const failed = out.refusal.retryAfterMs !== undefined;
        h.count("auth", failed ? "unavailable" : "denied");
        refuse(failed ? "hook_failed" : "hook_refused", out.refusal.code, out.refusal.message, out.closeCode);
        return;
      }
      id = out.identity;
    } else {
      id = verified as Identity;
    }
    if (req.refresh && ev.principal !== undefined && ev.principal.userId !== id.userId) {
      throw new AuthError("subject_mismatch", "a refreshed token must name the same user");
    }
    await refuseIfModerated(h, id);
  } catch (err) {
    if (!(err instanceof AuthError)) throw err;
    h.count("auth", err.code === "key_unavailable" ? "error" : "denied");
    if (err.code === "key_unavailable") h.log.error({ err: err.cause }, "token verification failed");
    refuse(err.code, err.code, err.reason, err.closeCode);
    return;
  }
  m.authResults.inc({ result: "ok", reason: "ok" });
  h.count("auth", "ok");
  const principal = create(PrincipalSchema, {
    userId: id.userId,
    read: [...id.read],
    write: [...id.write],
    expiresAtMs: BigInt(id.expiresAtMs),
    tokenId: id.tokenId,
  });
  h.principals.sign(principal, from, ev.connectionId);
  h.reply(from, ev, { case: "auth", value: { ok: true, principal } });
}

/**
 * A ban of the user or a revocation of the token refuses the auth, valid
 * token or not. The list is read from the store first (one read shared by
 * concurrent auths), so a ban written by any logic process counts; if the
 * store cannot be read, the list as this process last saw it decides.
 */
async function refuseIfModerated(h: HandlerContext, id: Identity): Promise<void> {
  const list = h.moderation;
  if (list === undefined) return;
  try {
    await list.fresh();
  } catch (err) {
    h.log.warn({ err: String(err) }, "moderation list not refreshed; using the last one read");
  }
  const now = h.now();
  const ban = list.banOf(id.userId, now);
  if (ban !== undefined) {
    const until = ban.untilMs === 0 ? "" : ` until ${new Date(ban.untilMs).toISOString()}`;
    throw new AuthError("banned", `banned${until}${ban.reason === "" ? "" : `: ${ban.reason}`}`);
  }
  if (list.revocationOf(id.tokenId, now) !== undefined)
    throw new AuthError("token_revoked", "this token was revoked");
}
