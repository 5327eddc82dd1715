import { create } from "@bufbuild/protobuf";
import {
  PresenceQuerySchema,
  ReadMarkerRequestSchema,
  SignalRequestSchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { ERROR_CODES, encodeErrorFrame } from "../../../protocol/client-frames.ts";
import {
  PRESENCE_BOUNDS,
  type PresenceQueryFrame,
  presenceInterestKey,
  type ReadFrame,
  type ReadsQueryFrame,
  type SignalFrame,
} from "../../../protocol/presence-frames.ts";
import { TokenBucket } from "../../../protocol/token-bucket.ts";
import type { Connection } from "./connection.ts";
import type { InboundContext } from "./inbound-context.ts";

const utf8 = new TextEncoder();

/**
 * Presence opt-in for a room: the connection is indexed under the room's
 * presence key too, so logic's presence changes reach only the sockets that
 * asked for them, through the ordinary interest and fan-out path.
 */
export function setPresenceOptIn(ctx: InboundContext, conn: Connection, room: string, on: boolean): void {
  const key = presenceInterestKey(room);
  const has = conn.membership(key) !== undefined;
  if (on === has) return;
  if (on) {
    const { created } = ctx.index.add(conn, key);
    conn.presenceOptIns++;
    if (created) ctx.link.roomAdded(key);
  } else {
    conn.presenceOptIns--;
    if (ctx.index.remove(conn, key)) ctx.link.roomRemoved(key);
  }
}

/** Ends a membership (leave, refused join): interest, presence opt-in and presence count. */
export function dropMembership(ctx: InboundContext, conn: Connection, room: string): void {
  const m = conn.membership(room);
  if (m === undefined) return;
  if (m.present && conn.principal) ctx.presence.remove(room, conn.principal.userId, Date.now());
  if (ctx.index.remove(conn, room)) ctx.link.roomRemoved(room);
  setPresenceOptIn(ctx, conn, room, false);
}

/** Before the index forgets a closed connection: its users leave presence (after the grace). */
export function dropPresence(ctx: Pick<InboundContext, "presence">, conn: Connection): void {
  if (conn.rooms === null || conn.principal === undefined) return;
  const now = Date.now();
  for (const [room, m] of conn.rooms) if (m.present) ctx.presence.remove(room, conn.principal.userId, now);
}

export function handlePresenceQuery(ctx: InboundContext, conn: Connection, f: PresenceQueryFrame): void {
  const q = create(PresenceQuerySchema, { room: f.room, after: f.after ?? "", limit: f.limit ?? 0 });
  if (!ctx.sendEvent(conn, { case: "presenceQuery", value: q }, f.room)) ctx.unavailable(conn, f.room);
}

export function handleSignal(ctx: InboundContext, conn: Connection, f: SignalFrame): void {
  const now = Date.now();
  const { limits } = ctx;
  if (conn.signalRate === null)
    conn.signalRate = new TokenBucket(limits.signalsPerSecond, limits.signalBurst, now);
  if (!conn.signalRate.take(now)) {
    ctx.metrics.rateLimitedFrames.inc();
    ctx.send(
      conn,
      encodeErrorFrame({
        code: ERROR_CODES.rateLimited.code,
        message: "too many signals",
        id: f.room,
        retryAfterMs: conn.signalRate.waitMs(now),
      }),
    );
    return;
  }
  let json = "";
  try {
    if (f.body !== undefined) json = JSON.stringify(f.body);
  } catch {
    // JSON.stringify recurses: a body nested thousands deep overflows the stack.
    ctx.send(
      conn,
      encodeErrorFrame({
        code: ERROR_CODES.invalidField.code,
        message: "signal.body is nested too deeply",
        id: f.room,
      }),
    );
    return;
  }
  const body = utf8.encode(json);
  if (body.byteLength > PRESENCE_BOUNDS.maxSignalBodyBytes) {
    ctx.send(
      conn,
      encodeErrorFrame({
        code: ERROR_CODES.bodyTooLarge.code,
        message: `signal body larger than ${PRESENCE_BOUNDS.maxSignalBodyBytes} bytes`,
        id: f.room,
      }),
    );
    return;
  }
  const req = create(SignalRequestSchema, {
    room: f.room,
    signalKind: f.kind,
    body,
    connection: `${ctx.gatewayId}/${conn.id}`,
  });
  if (!ctx.sendEvent(conn, { case: "signal", value: req }, f.room)) ctx.unavailable(conn, f.room);
}

export function handleRead(ctx: InboundContext, conn: Connection, f: ReadFrame | ReadsQueryFrame): void {
  const req =
    f.type === "read"
      ? create(ReadMarkerRequestSchema, { room: f.room, seq: BigInt(f.seq), notify: f.notify ?? "room" })
      : create(ReadMarkerRequestSchema, { room: f.room, seq: 0n, users: f.users ?? [] });
  if (!ctx.sendEvent(conn, { case: "readMarker", value: req }, f.room)) ctx.unavailable(conn, f.room);
}
