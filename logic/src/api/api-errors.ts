import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type CallError, CallErrorSchema } from "../../../gen/chatcluster/v1/chat_api_pb.js";
import type { Logger } from "../../../platform/logger.ts";
import { PROTOCOL_BOUNDS, ROOM_PATTERN } from "../../../protocol/index.ts";
import type { ApiResult } from "../handlers/logic-metrics.ts";
import { StoreError } from "../store/store-error.ts";

export function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

export function notFound(message: string): ConnectError {
  return new ConnectError(message, Code.NotFound);
}

/** Server-published rooms follow the client protocol's room syntax so clients can join them. */
export function checkRoom(room: string, field = "room"): string {
  if (room.length === 0 || room.length > PROTOCOL_BOUNDS.maxRoomLength || !ROOM_PATTERN.test(room)) {
    throw invalid(
      `${field}: 1 to ${PROTOCOL_BOUNDS.maxRoomLength} characters, dot-separated [A-Za-z0-9_-:@] segments`,
    );
  }
  return room;
}

/** A user id as tokens carry it (`sub`). */
export function checkUser(user: string, field = "user"): string {
  if (user.length === 0 || user.length > 256) throw invalid(`${field}: 1 to 256 characters`);
  return user;
}

/**
 * Any failure of a call as the ConnectError its client gets: a ConnectError
 * as it is; a store error as invalid_argument (not retryable) or
 * unavailable / resource_exhausted (retryable, the calls that store are
 * idempotent on their id); anything else is a bug, logged, and internal.
 */
export function toConnectError(err: unknown, log: Logger, method: string): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof StoreError) {
    if (!err.retryable) return new ConnectError(err.message, Code.InvalidArgument);
    if (err.code !== "overloaded")
      log.warn({ code: err.code, err: err.message, method }, "store operation failed");
    return new ConnectError(
      `${err.code}: retry later`,
      err.code === "overloaded" ? Code.ResourceExhausted : Code.Unavailable,
    );
  }
  log.error({ err, method }, "server api call failed");
  return new ConnectError("internal error", Code.Internal);
}

/** The api_requests_total result of a failed call. */
export function resultOf(err: ConnectError): ApiResult {
  switch (err.code) {
    case Code.InvalidArgument:
    case Code.NotFound:
    case Code.FailedPrecondition:
      return "invalid";
    case Code.Unavailable:
    case Code.ResourceExhausted:
      return "unavailable";
    case Code.Unauthenticated:
      return "unauthenticated";
    default:
      return "error";
  }
}

/** A failure inside a multi-part call (Broadcast, Batch): the Connect code's name and the message. */
export function callError(err: ConnectError): CallError {
  const name = Code[err.code].replace(/[A-Z]/g, (c, i: number) =>
    i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`,
  );
  return create(CallErrorSchema, { code: name, message: err.rawMessage });
}
