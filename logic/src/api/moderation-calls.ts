import { create } from "@bufbuild/protobuf";
import {
  type Duration,
  durationMs,
  type Timestamp,
  timestampDate,
  timestampFromMs,
} from "@bufbuild/protobuf/wkt";
import {
  type BanRequest,
  type BanResponse,
  BanResponseSchema,
  type RevokeTokenRequest,
  type RevokeTokenResponse,
  RevokeTokenResponseSchema,
  type UnbanRequest,
  type UnbanResponse,
  UnbanResponseSchema,
} from "../../../gen/chatcluster/v1/chat_api_pb.js";
import { CLOSE_CODES } from "../../../protocol/index.ts";
import { userInterestKey } from "../../../protocol/presence-frames.ts";
import type { ModerationEntry } from "../store/moderation-store.ts";
import type { ChatServiceDeps } from "./api-deps.ts";
import { checkUser, invalid } from "./api-errors.ts";
import { closeConnections } from "./connection-calls.ts";

/** Reasons are shown to clients in close frames (at most 123 bytes). */
const MAX_REASON_LENGTH = 100;

function checkReason(reason: string): string {
  if (reason.length > MAX_REASON_LENGTH) throw invalid(`reason: at most ${MAX_REASON_LENGTH} characters`);
  return reason;
}

/** Writes the entry to the store (it outlives every process), then to this process's list at once. */
async function record(d: ChatServiceDeps, e: ModerationEntry): Promise<void> {
  await d.moderation.store.put(e);
  d.moderation.list.record(e);
}

/**
 * Bans a user: stored first (every logic process refuses their auth from
 * now on, and their events once it has synced), then every connection of
 * theirs on every gateway gets a `disconnect` (reconnect: false) and is
 * closed with 4007 banned.
 */
export async function ban(d: ChatServiceDeps, req: BanRequest): Promise<BanResponse> {
  const user = checkUser(req.user);
  const reason = checkReason(req.reason);
  const now = Date.now();
  let untilMs = 0;
  if (req.duration !== undefined) {
    const ms = durationMs(req.duration as Duration);
    if (!(ms > 0)) throw invalid("duration: more than 0 (leave it out to ban for good)");
    untilMs = now + ms;
  }
  await record(d, { kind: "ban", key: user, untilMs, active: true, reason, atMs: now });
  const gateways = await closeConnections(d, userInterestKey(user), {
    code: CLOSE_CODES.banned.code,
    reason: reason === "" ? "banned" : reason,
    reconnect: false,
  });
  return create(BanResponseSchema, {
    gateways,
    ...(untilMs === 0 ? {} : { expiresAt: timestampFromMs(untilMs) }),
  });
}

/** Lifts a user's ban (their next auth goes through). */
export async function unban(d: ChatServiceDeps, req: UnbanRequest): Promise<UnbanResponse> {
  const user = checkUser(req.user);
  // Another process may have written the ban a moment ago.
  await d.moderation.list.fresh();
  const now = Date.now();
  const wasBanned = d.moderation.list.banOf(user, now) !== undefined;
  await record(d, { kind: "ban", key: user, untilMs: 0, active: false, reason: "", atMs: now });
  return create(UnbanResponseSchema, { wasBanned });
}

/**
 * Revokes one token by its `jti`: its next auth is refused, and the
 * connections that authenticated with it (the user's, or on every gateway
 * when the user is not given) are closed with 4001, told to come back with a
 * new token.
 */
export async function revokeToken(d: ChatServiceDeps, req: RevokeTokenRequest): Promise<RevokeTokenResponse> {
  const tokenId = req.tokenId;
  if (tokenId.length === 0 || tokenId.length > 256)
    throw invalid("token_id: the token's jti, 1 to 256 characters");
  if (req.user !== "") checkUser(req.user);
  const untilMs = req.expiresAt === undefined ? 0 : timestampDate(req.expiresAt as Timestamp).getTime();
  await record(d, {
    kind: "token",
    key: tokenId,
    untilMs,
    active: true,
    reason: "token revoked",
    atMs: Date.now(),
  });
  const gateways = await closeConnections(d, req.user === "" ? "" : userInterestKey(req.user), {
    tokenId,
    code: CLOSE_CODES.unauthorized.code,
    reason: "token revoked",
    reconnect: true,
  });
  return create(RevokeTokenResponseSchema, { gateways });
}
