import { create } from "@bufbuild/protobuf";
import {
  type DisconnectRequest,
  type DisconnectResponse,
  DisconnectResponseSchema,
  type SubscribeRequest,
  type SubscribeResponse,
  SubscribeResponseSchema,
  type UnsubscribeRequest,
  type UnsubscribeResponse,
  UnsubscribeResponseSchema,
} from "../../../gen/chatcluster/v1/chat_api_pb.js";
import { ConnectionCommandSchema } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import {
  CLOSE_CODES,
  encodeDisconnectFrame,
  encodeSubscribedFrame,
  encodeUnsubscribedFrame,
} from "../../../protocol/index.ts";
import { userInterestKey } from "../../../protocol/presence-frames.ts";
import type { CommandDispatch } from "../gateway-fleet.ts";
import type { ChatServiceDeps } from "./api-deps.ts";
import { checkRoom, checkUser, invalid } from "./api-errors.ts";

/** Close reasons shown to clients (the WebSocket limit is 123 bytes). */
const MAX_REASON_LENGTH = 100;
/**
 * How long a call waits for the gateways to apply its command. A gateway
 * that does not acknowledge in time (a stalled one) still gets it: the call
 * just stops waiting.
 */
export const COMMAND_APPLY_TIMEOUT_MS = 2000;

/**
 * The number of gateways a command went to, once they applied it (so a
 * Publish after a Subscribe reaches the new members) or the wait timed out.
 */
export async function appliedBy(dispatch: CommandDispatch): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((r) => {
    timer = setTimeout(r, COMMAND_APPLY_TIMEOUT_MS);
  });
  await Promise.race([dispatch.applied, timeout]);
  clearTimeout(timer);
  return dispatch.gateways;
}

/** `<gateway id>/<connection id>` (as in the client's welcome) as the command's narrowing, or none for "". */
function connectionOf(connection: string): { gatewayId: string; connectionId: number } {
  if (connection === "") return { gatewayId: "", connectionId: 0 };
  const slash = connection.lastIndexOf("/");
  const id = Number(connection.slice(slash + 1));
  if (slash <= 0 || !Number.isInteger(id) || id < 1 || id > 0xffff_ffff)
    throw invalid("connection: `<gateway id>/<connection id>` as in the client's welcome");
  return { gatewayId: connection.slice(0, slash), connectionId: id };
}

/**
 * Joins the user's connections (all, or one) on every gateway to a room, as
 * a join would, from the room's head on: each gets a `subscribed` frame, then
 * the room's live messages. The connections keep the membership for their
 * life, resumes included; one that reconnects joins again like any client.
 */
export async function subscribe(d: ChatServiceDeps, req: SubscribeRequest): Promise<SubscribeResponse> {
  const user = checkUser(req.user);
  const room = checkRoom(req.room);
  const target = connectionOf(req.connection);
  const { headSeq } = await d.store.read(room, { limit: 1 });
  const command = create(ConnectionCommandSchema, {
    ...target,
    kind: { case: "subscribe", value: { room, lastSeq: BigInt(headSeq) } },
  });
  const gateways = await appliedBy(
    d.fleet.command(userInterestKey(user), command, encodeSubscribedFrame(room, headSeq)),
  );
  return create(SubscribeResponseSchema, { gateways, lastSeq: BigInt(headSeq) });
}

/** Takes the user's connections (all, or one) on every gateway out of a room; each gets `unsubscribed`. */
export async function unsubscribe(d: ChatServiceDeps, req: UnsubscribeRequest): Promise<UnsubscribeResponse> {
  const user = checkUser(req.user);
  const room = checkRoom(req.room);
  const command = create(ConnectionCommandSchema, {
    ...connectionOf(req.connection),
    kind: { case: "unsubscribe", value: { room } },
  });
  const gateways = await appliedBy(
    d.fleet.command(userInterestKey(user), command, encodeUnsubscribedFrame(room)),
  );
  return create(UnsubscribeResponseSchema, { gateways });
}

/** Closes the user's connections (all, or one) on every gateway; each first gets a `disconnect` frame. */
export async function disconnect(d: ChatServiceDeps, req: DisconnectRequest): Promise<DisconnectResponse> {
  const user = checkUser(req.user);
  const code = req.code === 0 ? CLOSE_CODES.disconnected.code : req.code;
  if (code !== CLOSE_CODES.disconnected.code && (code < 4100 || code > 4999))
    throw invalid("code: 4006 (default) or one of your own from 4100 to 4999");
  if (req.reason.length > MAX_REASON_LENGTH) throw invalid(`reason: at most ${MAX_REASON_LENGTH} characters`);
  const gateways = await closeConnections(d, userInterestKey(user), {
    ...connectionOf(req.connection),
    code,
    reason: req.reason,
    reconnect: req.reconnect,
  });
  return create(DisconnectResponseSchema, { gateways });
}

/**
 * Closes the connections under `key` (all of a user's, or every one for ""),
 * narrowed to one connection or one token id; resolves with the gateways
 * reached once they applied it. Also what bans and revocations use.
 */
export function closeConnections(
  d: Pick<ChatServiceDeps, "fleet">,
  key: string,
  o: {
    gatewayId?: string;
    connectionId?: number;
    tokenId?: string;
    code: number;
    reason: string;
    reconnect: boolean;
  },
): Promise<number> {
  const command = create(ConnectionCommandSchema, {
    gatewayId: o.gatewayId ?? "",
    connectionId: o.connectionId ?? 0,
    tokenId: o.tokenId ?? "",
    kind: { case: "disconnect", value: { closeCode: o.code, reason: o.reason } },
  });
  return appliedBy(
    d.fleet.command(
      key,
      command,
      encodeDisconnectFrame({ code: o.code, reason: o.reason, reconnect: o.reconnect }),
    ),
  );
}
