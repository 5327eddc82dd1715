import type { ServiceImpl } from "@connectrpc/connect";
import type { ChatService } from "../../../gen/chatcluster/v1/chat_api_pb.js";
import type { ApiMethod, ApiResult } from "../handlers/logic-metrics.ts";
import type { ChatServiceDeps } from "./api-deps.ts";
import { resultOf, toConnectError } from "./api-errors.ts";
import { type BatchRoutes, batch } from "./batch-call.ts";
import { info, presence, presenceStats, rooms } from "./cluster-calls.ts";
import { disconnect, subscribe, unsubscribe } from "./connection-calls.ts";
import { deleteMessage, editMessage } from "./edit-calls.ts";
import { broadcast, history, publish } from "./message-calls.ts";
import { ban, revokeToken, unban } from "./moderation-calls.ts";

/** The commands a Batch may carry: every call that changes something. */
const BATCH_ROUTES: BatchRoutes = {
  publish,
  broadcast,
  editMessage,
  deleteMessage,
  subscribe,
  unsubscribe,
  disconnect,
  ban,
  unban,
  revokeToken,
};

/**
 * ChatService for the users' backends, assembled from one file per family
 * of calls: messages (publish, broadcast, history), edits (edit, delete), connections (subscribe,
 * unsubscribe, disconnect), the cluster (presence, rooms, info) and batch.
 * Every call is counted by method and result, and any failure reaches the
 * client as a ConnectError (api-errors.ts).
 */
export function createChatService(d: ChatServiceDeps): ServiceImpl<typeof ChatService> {
  const done = (method: ApiMethod, result: ApiResult): void => d.metrics.apiRequests.inc({ method, result });
  const call =
    <Req, Res>(method: ApiMethod, fn: (d: ChatServiceDeps, req: Req) => Promise<Res>) =>
    async (req: Req): Promise<Res> => {
      try {
        const res = await fn(d, req);
        done(method, "ok");
        return res;
      } catch (err) {
        const e = toConnectError(err, d.log, method);
        done(method, resultOf(e));
        throw e;
      }
    };
  return {
    publish: call("Publish", publish),
    broadcast: call("Broadcast", broadcast),
    history: call("History", history),
    editMessage: call("EditMessage", editMessage),
    deleteMessage: call("DeleteMessage", deleteMessage),
    subscribe: call("Subscribe", subscribe),
    unsubscribe: call("Unsubscribe", unsubscribe),
    disconnect: call("Disconnect", disconnect),
    presence: call("Presence", presence),
    presenceStats: call("PresenceStats", presenceStats),
    rooms: call("Rooms", rooms),
    info: call("Info", info),
    ban: call("Ban", ban),
    unban: call("Unban", unban),
    revokeToken: call("RevokeToken", revokeToken),
    batch: call("Batch", (deps, req) => batch(deps, req, BATCH_ROUTES)),
  };
}
