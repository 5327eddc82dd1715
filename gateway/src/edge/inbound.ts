import { create } from "@bufbuild/protobuf";
import {
  JoinRequestSchema,
  LeaveRequestSchema,
  SendRequestSchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import {
  type ClientFrame,
  ERROR_CODES,
  encodeErrorFrame,
  encodePongFrame,
} from "../../../protocol/client-frames.ts";
import { CLOSE_CODES } from "../../../protocol/close-codes.ts";
import { parseClientFrame } from "../../../protocol/parse-client-frame.ts";
import { presenceInterestKey } from "../../../protocol/presence-frames.ts";
import type { Connection } from "./connection.ts";
import { handleCall, handleEdit, jsonOf } from "./inbound-actions.ts";
import type { InboundContext } from "./inbound-context.ts";
import {
  dropMembership,
  handlePresenceQuery,
  handleRead,
  handleSignal,
  setPresenceOptIn,
} from "./inbound-presence.ts";

function error(
  ctx: InboundContext,
  conn: Connection,
  code: string,
  message: string,
  id?: string,
  retryAfterMs?: number,
) {
  ctx.send(conn, encodeErrorFrame({ code, message, id, retryAfterMs }));
}

/** What an error about `f` names: a send's id, the room of the others, nothing for auth and ping. */
function frameId(f: ClientFrame): string | undefined {
  if (f.type === "send") return f.id;
  return "room" in f && typeof f.room === "string" ? f.room : undefined;
}

/** Rate limit, parse and dispatch one client frame. Bad input never throws past here. */
export function handleClientMessage(
  ctx: InboundContext,
  conn: Connection,
  data: Buffer,
  isBinary: boolean,
): void {
  if (conn.state === "closing" || conn.state === "closed") return;
  conn.alive = true;
  const { metrics, limits } = ctx;
  metrics.bytesIn.inc(data.length);
  if (isBinary) {
    metrics.framesIn.inc({ type: "invalid" });
    ctx.closeConn(conn, CLOSE_CODES.badFrame, "binary frames are not accepted");
    return;
  }
  const now = Date.now();
  if (!conn.rate.take(now)) {
    metrics.rateLimitedFrames.inc();
    if (now - conn.strikeWindowStart > limits.rateStrikeWindowMs) {
      conn.strikeWindowStart = now;
      conn.strikes = 0;
    }
    if (++conn.strikes > limits.rateStrikes) {
      ctx.closeConn(conn, CLOSE_CODES.rateLimited, "rate limit exceeded repeatedly");
      return;
    }
    // The refused frame's id (a send's id, a room), so the client knows what to retry:
    // parsing it costs little next to the strikes' close.
    const refused = parseClientFrame(data.toString("utf8"));
    error(
      ctx,
      conn,
      ERROR_CODES.rateLimited.code,
      "too many frames",
      refused.kind === "frame" ? frameId(refused.frame) : refused.kind === "reject" ? refused.id : undefined,
      conn.rate.waitMs(now),
    );
    return;
  }
  const parsed = parseClientFrame(data.toString("utf8"));
  if (parsed.kind === "malformed") {
    metrics.framesIn.inc({ type: "invalid" });
    ctx.closeConn(conn, CLOSE_CODES.badFrame, parsed.message);
    return;
  }
  if (parsed.kind === "reject") {
    metrics.framesIn.inc({ type: "invalid" });
    error(ctx, conn, parsed.code, parsed.message, parsed.id);
    // No usable token (empty, not a string, too long): refused like a bad one, at once.
    if (parsed.type === "auth") ctx.closeConn(conn, CLOSE_CODES.unauthorized, "auth.token is not usable");
    return;
  }
  const frame = parsed.frame;
  (metrics.framesInByType.get(frame.type) ?? metrics.framesIn.labels({ type: frame.type })).inc();
  if (frame.type === "ping") {
    ctx.send(conn, encodePongFrame(frame.ts));
    return;
  }
  if (frame.type === "auth") {
    if (conn.authInFlight) {
      error(ctx, conn, ERROR_CODES.invalidField.code, "an auth is already in progress");
      return;
    }
    ctx.startAuth(conn, frame.token, conn.state === "open");
    return;
  }
  if (conn.state !== "open") {
    const id = "id" in frame ? frame.id : frame.room;
    error(ctx, conn, ERROR_CODES.notAuthenticated.code, "send an auth frame first and wait for welcome", id);
    return;
  }
  switch (frame.type) {
    case "join": {
      const { index, link } = ctx;
      const before = conn.membership(frame.room);
      if (
        before === undefined &&
        (conn.rooms?.size ?? 0) - conn.presenceOptIns >= limits.maxRoomsPerConnection
      ) {
        error(
          ctx,
          conn,
          ERROR_CODES.tooManyRooms.code,
          `at most ${limits.maxRoomsPerConnection} rooms`,
          frame.room,
        );
        return;
      }
      const wasHeld = before?.held ?? null;
      const { membership, created } = index.add(conn, frame.room);
      // Live deliveries wait until the joined frame is written (its page ends at last_seq).
      if (membership.held === null) membership.held = [];
      if (created) link.roomAdded(frame.room);
      const optedIn = conn.membership(presenceInterestKey(frame.room)) !== undefined;
      setPresenceOptIn(ctx, conn, frame.room, frame.presence === true);
      const join = create(JoinRequestSchema, {
        room: frame.room,
        limit: frame.limit ?? 0,
        granted: membership.granted,
      });
      if (frame.since !== undefined) join.since = BigInt(frame.since);
      if (!ctx.sendEvent(conn, { case: "join", value: join }, frame.room)) {
        if (before === undefined) {
          dropMembership(ctx, conn, frame.room);
        } else {
          setPresenceOptIn(ctx, conn, frame.room, optedIn);
          // Nothing can have been held within this call: back to live.
          if (wasHeld === null) membership.held = null;
        }
        ctx.unavailable(conn, frame.room);
      }
      return;
    }
    case "leave": {
      if (conn.membership(frame.room) === undefined) {
        error(ctx, conn, ERROR_CODES.notJoined.code, "not a member of this room", frame.room);
        return;
      }
      dropMembership(ctx, conn, frame.room);
      // Logic keeps no membership state; the event is for its audit and metrics, best effort.
      ctx.sendEvent(
        conn,
        { case: "leave", value: create(LeaveRequestSchema, { room: frame.room }) },
        frame.room,
      );
      return;
    }
    case "send": {
      const body = jsonOf(ctx, conn, frame.body, "send.body", frame.id);
      if (body === undefined) return;
      const req = create(SendRequestSchema, { room: frame.room, clientMsgId: frame.id, body });
      if (!ctx.sendEvent(conn, { case: "send", value: req }, frame.room)) {
        ctx.unavailable(conn, frame.id);
      }
      return;
    }
    case "presence":
      handlePresenceQuery(ctx, conn, frame);
      return;
    case "signal":
      handleSignal(ctx, conn, frame);
      return;
    case "read":
    case "reads":
      handleRead(ctx, conn, frame);
      return;
    case "call":
      handleCall(ctx, conn, frame);
      return;
    case "edit":
    case "delete":
      handleEdit(ctx, conn, frame);
      return;
  }
}
