import type {
  ClientEvent,
  PresenceChange,
  PresenceLease,
  PresenceQuery,
  Principal,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import {
  encodePresenceChangeFrame,
  encodePresencePageFrame,
  PRESENCE_BOUNDS,
  presenceInterestKey,
} from "../../../protocol/presence-frames.ts";
import type { GatewayFleet, GatewayRef } from "../gateway-fleet.ts";
import type { PresenceDeparture, PresenceTable } from "../store/presence-table.ts";
import { StoreError } from "../store/store-error.ts";
import { type HandlerContext, validRoom } from "./handler-context.ts";
import type { LogicMetrics, PresenceCause } from "./logic-metrics.ts";

// Presence (docs/presence.md): gateways report who came and went in their
// rooms and renew their epoch's lease; clients ask who is in a room. State
// lives in the shared PresenceTable; the handlers keep none.

/** TTL of an epoch's presence when its lease says none: three default lease intervals. */
export const DEFAULT_PRESENCE_TTL_MS = 6_000;

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

/** A gateway's report: a user's first connection in a room joined, or its last one left. */
export async function handlePresenceChange(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  c: PresenceChange,
): Promise<void> {
  if (!validRoom(c.room) || c.userId === "") return h.done(from, ev, "presenceChange", "invalid");
  try {
    const owner = ownerOf(from);
    const changed = c.online
      ? await h.presence.setOnline(c.room, c.userId, owner, h.now(), DEFAULT_PRESENCE_TTL_MS)
      : await h.presence.setOffline(c.room, c.userId, owner);
    if (changed) {
      h.fleet.deliverToRoom(
        presenceInterestKey(c.room),
        0n,
        encodePresenceChangeFrame(c.room, c.userId, c.online ? "joined" : "left"),
      );
      h.metrics.presenceAnnounced.inc({ change: c.online ? "joined" : "left", cause: "report" });
    }
  } catch (err) {
    // Every event gets exactly one reply, so the change is lost (counted as
    // unavailable): a lost `offline` keeps the entry until its epoch's lease ends.
    if (!(err instanceof StoreError)) throw err;
    h.log.warn({ err: err.message }, "presence change not recorded");
    return h.done(from, ev, "presenceChange", "unavailable");
  }
  h.done(from, ev, "presenceChange", "ok");
}

/** A gateway epoch renews its lease, or releases it when it ends. */
export async function handlePresenceLease(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  l: PresenceLease,
): Promise<void> {
  const owner = ownerOf(from);
  try {
    if (l.release)
      await h.presence.release(owner, (gone) => announceDepartures(h.fleet, gone, h.metrics, "release"));
    else await h.presence.renew(owner, h.now(), l.ttlMs || DEFAULT_PRESENCE_TTL_MS);
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    return h.done(from, ev, "presenceLease", "unavailable");
  }
  h.done(from, ev, "presenceLease", "ok");
}

/** Who is in a room: a page of users (sorted) and the exact total, for members who may read it. */
export async function handlePresenceQuery(
  h: HandlerContext,
  from: GatewayRef,
  ev: ClientEvent,
  q: PresenceQuery,
  p: Principal,
): Promise<void> {
  const room = q.room;
  if (!h.mayRead(from, ev, "presenceQuery", room, p)) return;
  const limit = Math.min(q.limit || PRESENCE_BOUNDS.defaultPresencePage, PRESENCE_BOUNDS.maxPresencePage);
  let page: Awaited<ReturnType<PresenceTable["page"]>>;
  try {
    page = await h.presence.page(room, q.after, limit);
  } catch (err) {
    return h.storeFailure(from, ev, "presenceQuery", err, room);
  }
  const next = page.more ? page.users.at(-1) : undefined;
  h.count("presenceQuery", "ok");
  h.frame(from, ev, encodePresencePageFrame({ room, total: page.total, users: page.users, next }));
}
