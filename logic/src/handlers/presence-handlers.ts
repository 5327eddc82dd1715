import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  ClientEvent,
  PresenceChange,
  PresenceLease,
  PresenceQuery,
  Principal,
  ReadMarkerRequest,
  ReplySchema,
  SignalRequest,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { Logger } from "../../../platform/logger.ts";
import { ERROR_CODES, encodeErrorFrame, PROTOCOL_BOUNDS, ROOM_PATTERN } from "../../../protocol/index.ts";
import {
  encodePresenceChangeFrame,
  encodePresencePageFrame,
  encodeReadEventFrame,
  encodeReadsPageFrame,
  encodeSignalFrame,
  PRESENCE_BOUNDS,
  presenceInterestKey,
  SIGNAL_KIND_PATTERN,
  userInterestKey,
} from "../../../protocol/presence-frames.ts";
import { matchesAny } from "../auth/room-pattern.ts";
import type { GatewayFleet, GatewayRef } from "../gateway-fleet.ts";
import type { MessageStore } from "../store/message-store.ts";
import type { PresenceDeparture, PresenceTable } from "../store/presence-table.ts";
import { StoreError } from "../store/store-error.ts";
import type { EventKind, EventResult, LogicMetrics, PresenceCause } from "./logic-metrics.ts";

type ReplyKind = NonNullable<MessageInitShape<typeof ReplySchema>["kind"]>;

/** TTL of an epoch's presence when its lease says none: three default lease intervals. */
export const DEFAULT_PRESENCE_TTL_MS = 6_000;
const RETRY_AFTER_MS = 1000;

export interface PresenceHandlerDeps {
  readonly table: PresenceTable;
  readonly store: MessageStore;
  readonly fleet: GatewayFleet;
  readonly log: Logger;
  readonly now: () => number;
  readonly reply: (from: GatewayRef, ev: ClientEvent, kind: ReplyKind) => void;
  readonly count: (kind: EventKind, result: EventResult) => void;
  readonly metrics: LogicMetrics;
}

export function ownerOf(from: GatewayRef): string {
  return `${from.id}/${from.epoch}`;
}

/** Tells the room's presence subscribers that users are gone (expiry, release). */
export function announceDepartures(
  fleet: GatewayFleet,
  gone: readonly PresenceDeparture[],
  metrics: LogicMetrics,
  cause: PresenceCause,
): void {
  for (const d of gone)
    fleet.deliverToRoom(presenceInterestKey(d.room), 0n, encodePresenceChangeFrame(d.room, d.user, "left"));
  if (gone.length > 0) metrics.presenceAnnounced.inc({ change: "left", cause }, gone.length);
}

/**
 * Presence, signals and read markers (docs/presence.md). Stateless like the
 * other handlers: presence lives in the shared PresenceTable, markers in the
 * store; signals pass through and are never stored.
 */
export class PresenceHandlers {
  readonly #d: PresenceHandlerDeps;

  constructor(deps: PresenceHandlerDeps) {
    this.#d = deps;
  }

  async change(from: GatewayRef, ev: ClientEvent, c: PresenceChange): Promise<void> {
    const d = this.#d;
    if (!validRoom(c.room) || c.userId === "") return this.#done(from, ev, "presenceChange", "invalid");
    try {
      const owner = ownerOf(from);
      const changed = c.online
        ? await d.table.setOnline(c.room, c.userId, owner, d.now(), DEFAULT_PRESENCE_TTL_MS)
        : await d.table.setOffline(c.room, c.userId, owner);
      if (changed) {
        d.fleet.deliverToRoom(
          presenceInterestKey(c.room),
          0n,
          encodePresenceChangeFrame(c.room, c.userId, c.online ? "joined" : "left"),
        );
        d.metrics.presenceAnnounced.inc({ change: c.online ? "joined" : "left", cause: "report" });
      }
    } catch (err) {
      // Every event gets exactly one reply, so the change is lost (counted as
      // unavailable): a lost `offline` keeps the entry until its epoch's lease ends.
      if (!(err instanceof StoreError)) throw err;
      d.log.warn({ err: err.message }, "presence change not recorded");
      return this.#done(from, ev, "presenceChange", "unavailable");
    }
    this.#done(from, ev, "presenceChange", "ok");
  }

  async lease(from: GatewayRef, ev: ClientEvent, l: PresenceLease): Promise<void> {
    const d = this.#d;
    const owner = ownerOf(from);
    try {
      if (l.release)
        await d.table.release(owner, (gone) => announceDepartures(d.fleet, gone, d.metrics, "release"));
      else await d.table.renew(owner, d.now(), l.ttlMs || DEFAULT_PRESENCE_TTL_MS);
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      return this.#done(from, ev, "presenceLease", "unavailable");
    }
    this.#done(from, ev, "presenceLease", "ok");
  }

  async query(from: GatewayRef, ev: ClientEvent, p: Principal, q: PresenceQuery): Promise<void> {
    const room = q.room;
    if (!validRoom(room)) return this.#error(from, ev, "presenceQuery", "invalid", "invalid room name", room);
    if (!matchesAny(p.read, room))
      return this.#error(
        from,
        ev,
        "presenceQuery",
        "denied",
        "no read access to room",
        room,
        ERROR_CODES.forbidden.code,
      );
    const limit = Math.min(q.limit || PRESENCE_BOUNDS.defaultPresencePage, PRESENCE_BOUNDS.maxPresencePage);
    let page: Awaited<ReturnType<PresenceTable["page"]>>;
    try {
      page = await this.#d.table.page(room, q.after, limit);
    } catch (err) {
      return this.#storeFailure(from, ev, "presenceQuery", err, room);
    }
    const next = page.more ? page.users.at(-1) : undefined;
    this.#d.count("presenceQuery", "ok");
    this.#d.reply(from, ev, {
      case: "frame",
      value: encodePresencePageFrame({ room, total: page.total, users: page.users, next }),
    });
  }

  signal(from: GatewayRef, ev: ClientEvent, p: Principal, s: SignalRequest): void {
    const room = s.room;
    const problem =
      !validRoom(room) || !SIGNAL_KIND_PATTERN.test(s.signalKind)
        ? "invalid room or signal kind"
        : s.body.byteLength > PRESENCE_BOUNDS.maxSignalBodyBytes
          ? "signal body too large"
          : undefined;
    if (problem !== undefined) {
      this.#error(from, ev, "signal", "invalid", problem, room);
      return;
    }
    if (!matchesAny(p.write, room)) {
      this.#error(from, ev, "signal", "denied", "no write access to room", room, ERROR_CODES.forbidden.code);
      return;
    }
    // Never stored: one frame, fanned out like a message with seq 0.
    this.#d.fleet.deliverToRoom(
      room,
      0n,
      encodeSignalFrame({
        room,
        kind: s.signalKind,
        from: p.userId,
        connection: s.connection,
        bodyJson: s.body,
      }),
    );
    this.#done(from, ev, "signal", "ok");
  }

  async readMarker(from: GatewayRef, ev: ClientEvent, p: Principal, r: ReadMarkerRequest): Promise<void> {
    const room = r.room;
    if (!validRoom(room)) return this.#error(from, ev, "readMarker", "invalid", "invalid room name", room);
    if (!matchesAny(p.read, room))
      return this.#error(
        from,
        ev,
        "readMarker",
        "denied",
        "no read access to room",
        room,
        ERROR_CODES.forbidden.code,
      );
    const d = this.#d;
    if (r.seq === 0n) {
      const users = r.users.length > 0 ? r.users.slice(0, PRESENCE_BOUNDS.maxReadsUsers) : [p.userId];
      let markers: Map<string, number>;
      try {
        markers = await d.store.getReadMarkers(room, users);
      } catch (err) {
        return this.#storeFailure(from, ev, "readMarker", err, room);
      }
      d.count("readMarker", "ok");
      d.reply(from, ev, { case: "frame", value: encodeReadsPageFrame(room, markers) });
      return;
    }
    let seq: number;
    try {
      seq = await d.store.setReadMarker(room, p.userId, Number(r.seq));
    } catch (err) {
      return this.#storeFailure(from, ev, "readMarker", err, room);
    }
    const frame = encodeReadEventFrame({ room, user: p.userId, seq });
    d.count("readMarker", "ok");
    d.fleet.deliverToRoom(r.notify === "self" ? userInterestKey(p.userId) : room, 0n, frame);
    d.reply(from, ev, { case: "done", value: {} });
  }

  #done(from: GatewayRef, ev: ClientEvent, kind: EventKind, result: EventResult): void {
    this.#d.count(kind, result);
    this.#d.reply(from, ev, { case: "done", value: {} });
  }

  #error(
    from: GatewayRef,
    ev: ClientEvent,
    kind: EventKind,
    result: EventResult,
    message: string,
    id: string,
    code: string = ERROR_CODES.invalidField.code,
  ): void {
    this.#d.count(kind, result);
    this.#d.reply(from, ev, { case: "frame", value: encodeErrorFrame({ code, message, id }) });
  }

  #storeFailure(from: GatewayRef, ev: ClientEvent, kind: EventKind, err: unknown, id: string): void {
    if (!(err instanceof StoreError)) throw err;
    this.#d.count(kind, err.retryable ? "unavailable" : "invalid");
    const frame = err.retryable
      ? encodeErrorFrame({
          code: ERROR_CODES.unavailable.code,
          message: "store unavailable, retry",
          id,
          retryAfterMs: RETRY_AFTER_MS,
        })
      : encodeErrorFrame({ code: ERROR_CODES.invalidField.code, message: "rejected by the store", id });
    this.#d.reply(from, ev, { case: "frame", value: frame });
  }
}

function validRoom(room: string): boolean {
  return room.length > 0 && room.length <= PROTOCOL_BOUNDS.maxRoomLength && ROOM_PATTERN.test(room);
}
