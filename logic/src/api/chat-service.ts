import { randomUUID } from "node:crypto";
import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type ChatService,
  type HistoryRequest,
  HistoryResponseSchema,
  type PublishRequest,
  PublishResponseSchema,
  StoredMessageSchema,
} from "../../../gen/chatcluster/v1/chat_api_pb.js";
import type { Logger } from "../../../platform/logger.ts";
import { encodeMessageFrame, PROTOCOL_BOUNDS, ROOM_PATTERN } from "../../../protocol/index.ts";
import type { GatewayFleet } from "../gateway-fleet.ts";
import type { ApiMethod, ApiResult, LogicMetrics } from "../handlers/logic-metrics.ts";
import { messageIdProblem } from "../store/input-checks.ts";
import type { MessageStore } from "../store/message-store.ts";
import { StoreError } from "../store/store-error.ts";

export interface ChatServiceDeps {
  readonly store: MessageStore;
  readonly fleet: GatewayFleet;
  readonly metrics: LogicMetrics;
  readonly log: Logger;
  readonly limits: { readonly maxBodyBytes: number; readonly maxHistoryPage: number };
}

const DEFAULT_SENDER = "system";
const encoder = new TextEncoder();

/**
 * ChatService for the users' backends: Publish stores and delivers exactly like
 * a client send (same store, same encode-once `message` frame, same
 * deduplication on (room, id)); History reads pages like a join.
 */
export function createChatService(d: ChatServiceDeps): Partial<ServiceImpl<typeof ChatService>> {
  const done = (method: ApiMethod, result: ApiResult): void => d.metrics.apiRequests.inc({ method, result });

  const fail = (method: ApiMethod, err: unknown): never => {
    if (err instanceof ConnectError) {
      done(method, err.code === Code.InvalidArgument ? "invalid" : "error");
      throw err;
    }
    if (err instanceof StoreError) {
      if (!err.retryable) {
        done(method, "invalid");
        throw new ConnectError(err.message, Code.InvalidArgument);
      }
      done(method, "unavailable");
      if (err.code !== "overloaded")
        d.log.warn({ code: err.code, err: err.message }, "store operation failed");
      // Unavailable tells Connect and gRPC clients that retrying is safe (Publish is idempotent on id).
      throw new ConnectError(
        `${err.code}: retry later`,
        err.code === "overloaded" ? Code.ResourceExhausted : Code.Unavailable,
      );
    }
    done(method, "error");
    d.log.error({ err, method }, "server api call failed");
    throw new ConnectError("internal error", Code.Internal);
  };

  return {
    async publish(req: PublishRequest) {
      try {
        const room = checkRoom(req.room);
        const id = req.id === "" ? randomUUID() : req.id;
        if (messageIdProblem(id) !== undefined)
          throw invalid("id: 1 to 128 characters, no control characters");
        const from = req.from === "" ? DEFAULT_SENDER : req.from;
        if (req.body === undefined) throw invalid("body is required (any JSON value)");
        const bodyText = JSON.stringify(toJson(ValueSchema, req.body));
        const bodyBytes = encoder.encode(bodyText);
        if (bodyBytes.byteLength > d.limits.maxBodyBytes) {
          throw invalid(`body larger than ${d.limits.maxBodyBytes} bytes`);
        }
        const acceptedAtMs = performance.timeOrigin + performance.now();
        const r = await d.store.append(room, { id, from, body: bodyText });
        d.fleet.deliverToRoom(
          room,
          BigInt(r.seq),
          encodeMessageFrame({ room, seq: r.seq, prev: r.prev, id, from, ts: r.ts, bodyJson: bodyBytes }),
          acceptedAtMs,
        );
        d.metrics.messagesDelivered.inc();
        if (r.duplicate) d.metrics.duplicates.inc();
        done("Publish", "ok");
        return create(PublishResponseSchema, {
          seq: BigInt(r.seq),
          prev: BigInt(r.prev),
          id,
          duplicate: r.duplicate,
        });
      } catch (err) {
        return fail("Publish", err);
      }
    },

    async history(req: HistoryRequest) {
      try {
        const room = checkRoom(req.room);
        const max = d.limits.maxHistoryPage;
        const limit = req.limit === 0 ? max : Math.min(req.limit, max);
        const page = await d.store.read(
          room,
          req.since === undefined ? { limit } : { since: Number(req.since), limit },
        );
        d.metrics.historyReads.inc({ source: "api" });
        d.metrics.historyMessages.observe(page.messages.length);
        done("History", "ok");
        return create(HistoryResponseSchema, {
          complete: page.complete,
          headSeq: BigInt(page.headSeq),
          messages: page.messages.map((m) =>
            create(StoredMessageSchema, {
              room,
              seq: BigInt(m.seq),
              prev: BigInt(m.prev),
              id: m.id,
              from: m.from,
              tsMs: BigInt(m.ts),
              body: fromJson(ValueSchema, JSON.parse(m.body) as JsonValue),
            }),
          ),
        });
      } catch (err) {
        return fail("History", err);
      }
    },
  };
}

/** Server-published rooms follow the client protocol's room syntax so clients can join them. */
function checkRoom(room: string): string {
  if (room.length === 0 || room.length > PROTOCOL_BOUNDS.maxRoomLength || !ROOM_PATTERN.test(room)) {
    throw invalid(
      `room: 1 to ${PROTOCOL_BOUNDS.maxRoomLength} characters, dot-separated [A-Za-z0-9_-:@] segments`,
    );
  }
  return room;
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}
