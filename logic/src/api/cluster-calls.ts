import { create } from "@bufbuild/protobuf";
import {
  GatewayInfoSchema,
  type InfoResponse,
  InfoResponseSchema,
  LogicInfoSchema,
  type PresenceRequest,
  type PresenceResponse,
  PresenceResponseSchema,
  type PresenceStatsRequest,
  type PresenceStatsResponse,
  PresenceStatsResponseSchema,
  RoomSummarySchema,
  type RoomsRequest,
  type RoomsResponse,
  RoomsResponseSchema,
} from "../../../gen/chatcluster/v1/chat_api_pb.js";
import { PRESENCE_BOUNDS } from "../../../protocol/presence-frames.ts";
import type { ChatServiceDeps } from "./api-deps.ts";
import { checkRoom, invalid } from "./api-errors.ts";

function pageLimit(limit: number): number {
  if (limit > PRESENCE_BOUNDS.maxPresencePage)
    throw invalid(`limit: at most ${PRESENCE_BOUNDS.maxPresencePage}`);
  return limit === 0 ? PRESENCE_BOUNDS.defaultPresencePage : limit;
}

/** Who is online in a room, as the shared presence table has it (the same page clients get). */
export async function presence(d: ChatServiceDeps, req: PresenceRequest): Promise<PresenceResponse> {
  const room = checkRoom(req.room);
  const page = await d.presence.page(room, req.after, pageLimit(req.limit));
  return create(PresenceResponseSchema, {
    total: page.total,
    users: [...page.users],
    next: page.more ? (page.users.at(-1) ?? "") : "",
  });
}

/** How many users are online in a room, and on how many gateways (as this process's interest table has it). */
export async function presenceStats(
  d: ChatServiceDeps,
  req: PresenceStatsRequest,
): Promise<PresenceStatsResponse> {
  const room = checkRoom(req.room);
  const page = await d.presence.page(room, "", 0);
  return create(PresenceStatsResponseSchema, { users: page.total, gateways: d.fleet.gatewaysWith(room) });
}

/** The active rooms (at least one user online), sorted by name, with their member counts. */
export async function rooms(d: ChatServiceDeps, req: RoomsRequest): Promise<RoomsResponse> {
  const page = await d.presence.rooms(req.after, pageLimit(req.limit));
  return create(RoomsResponseSchema, {
    total: page.total,
    rooms: page.rooms.map((r) => create(RoomSummarySchema, r)),
    next: page.more ? (page.rooms.at(-1)?.room ?? "") : "",
  });
}

/**
 * The cluster as this logic process sees it: every gateway it discovered
 * (with the connections and rooms of its last status report) and every logic
 * process, itself and those the gateways report streams from.
 */
export async function info(d: ChatServiceDeps): Promise<InfoResponse> {
  const views = d.fleet.gatewayViews().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const logic = new Map<string, { id: string; epoch: string; version: string; gateways: number }>();
  const self = d.self;
  logic.set(`${self.logicId}/${self.epoch}`, {
    id: self.logicId,
    epoch: self.epoch,
    version: self.version,
    gateways: 0,
  });
  let connections = 0;
  for (const g of views) {
    connections += g.connections;
    for (const p of g.logic) {
      const key = `${p.logicId}/${p.epoch}`;
      const entry = logic.get(key) ?? { id: p.logicId, epoch: p.epoch, version: p.version, gateways: 0 };
      entry.gateways++;
      logic.set(key, entry);
    }
  }
  return create(InfoResponseSchema, {
    servedBy: self.logicId,
    connections: BigInt(connections),
    gateways: views.map((g) =>
      create(GatewayInfoSchema, {
        id: g.id,
        epoch: g.epoch,
        version: g.version,
        state: g.state,
        draining: g.draining,
        connections: g.connections,
        rooms: g.rooms,
      }),
    ),
    logic: [...logic.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((l) => create(LogicInfoSchema, l)),
  });
}
