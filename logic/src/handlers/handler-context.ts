import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Counter } from "prom-client";
import {
  type ClientEvent,
  type Done,
  DoneSchema,
  type Principal,
  type Reply,
  ReplySchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { Logger } from "../../../platform/logger.ts";
import {
  CLOSE_CODES,
  ERROR_CODES,
  encodeErrorFrame,
  PROTOCOL_BOUNDS,
  ROOM_PATTERN,
} from "../../../protocol/index.ts";
import { matchesAny } from "../../../protocol/room-pattern.ts";
import { AuthError } from "../auth/auth-error.ts";
import type { Authenticator } from "../auth/authenticator.ts";
import { type PrincipalCheck, PrincipalSeal, principalAccepted } from "../auth/principal-seal.ts";
import type { GatewayFleet, GatewayRef } from "../gateway-fleet.ts";
import type { HookCaller, HookRefusalOut, Hooks } from "../hooks/hooks.ts";
import { RoomSequencer } from "../hooks/room-sequencer.ts";
import type { ModerationList } from "../moderation/moderation-list.ts";
import type { MessageStore } from "../store/message-store.ts";
import type { PresenceTable } from "../store/presence-table.ts";
import { StoreError } from "../store/store-error.ts";
import { AppendAdmission } from "./append-admission.ts";
import type { EventKind, EventResult, LogicMetrics } from "./logic-metrics.ts";
import { RecentSends } from "./recent-sends.ts";

export interface HandlerLimits {
  /** Largest message body in bytes (JSON text). */
  readonly maxBodyBytes: number;
  /** Largest history page a join returns; also the page when a join asks for none. */
  readonly maxHistoryPage: number;
}

export interface HandlerDeps {
  /** Wrapped with `boundStore` (shared with the server API). */
  readonly store: MessageStore;
  readonly fleet: GatewayFleet;
  readonly auth: Authenticator;
  readonly metrics: LogicMetrics;
  readonly log: Logger;
  readonly limits: HandlerLimits;
  /** Injected in tests; default Date.now. */
  readonly now?: () => number;
  /**
   * Signs the principals auth issues and checks them on every event
   * (docs/logic.md). Default: signing off.
   */
  readonly principals?: PrincipalSeal;
  /**
   * Shared presence (docs/presence.md). Default: a table private to this
   * process, exact only while it is the only logic process.
   */
  readonly presence?: PresenceTable;
  /** Admission of sends by their appends' queue delay. Default: a 50 ms target. */
  readonly admission?: AppendAdmission;
  /** The team's hooks (docs/hooks.md); absent when none is enabled. */
  readonly hooks?: Hooks;
  /** Bans and revoked tokens (absent: none, in unit tests). */
  readonly moderation?: ModerationList;
}

export type ReplyKind = NonNullable<MessageInitShape<typeof ReplySchema>["kind"]>;
const REPLY_TYPE = "chatcluster.v1.Reply" as const;
const DONE: Done = create(DoneSchema);

/** Retry hint of a store that cannot be reached (about a reconnect or a failover), before jitter. */
export const STORE_UNAVAILABLE_RETRY_MS = 1000;

/**
 * What every handler uses: its dependencies, and the ways to answer an event
 * (each event gets exactly one Reply, which is also its ack to the gateway)
 * while counting the outcome in chatcluster_logic_events_total.
 */
export class HandlerContext {
  readonly store: MessageStore;
  readonly fleet: GatewayFleet;
  readonly auth: Authenticator;
  readonly metrics: LogicMetrics;
  readonly log: Logger;
  readonly limits: HandlerLimits;
  readonly presence: PresenceTable;
  readonly principals: PrincipalSeal;
  readonly admission: AppendAdmission;
  readonly recent = new RecentSends();
  readonly now: () => number;
  readonly #eventCounters = new Map<string, Counter.Internal>();
  readonly #principalChecks = new Map<PrincipalCheck, Counter.Internal>();
  readonly hooks: Hooks | undefined;
  readonly moderation: ModerationList | undefined;
  /** Keeps each room's events in arrival order while they wait for their Send hook. */
  readonly sequencer = new RoomSequencer();

  constructor(deps: HandlerDeps, presence: PresenceTable) {
    this.store = deps.store;
    this.fleet = deps.fleet;
    this.auth = deps.auth;
    this.metrics = deps.metrics;
    this.log = deps.log;
    this.limits = deps.limits;
    this.presence = presence;
    this.now = deps.now ?? Date.now;
    this.principals =
      deps.principals ?? new PrincipalSeal({ key: "", previousKey: "", acceptUnsigned: false });
    this.admission = deps.admission ?? new AppendAdmission({ targetMs: 50 });
    this.hooks = deps.hooks;
    this.moderation = deps.moderation;
  }

  /** Who acts, as the hooks see them. */
  caller(from: GatewayRef, ev: ClientEvent, p: Principal): HookCaller {
    return { principal: p, connection: `${from.id}/${ev.connectionId}` };
  }

  /** Counts the outcome and answers with a hook's (or its failure policy's) refusal, naming `id`. */
  refuseByHook(from: GatewayRef, ev: ClientEvent, kind: EventKind, r: HookRefusalOut, id: string): void {
    this.count(kind, r.retryAfterMs === undefined ? "denied" : "unavailable");
    this.frame(
      from,
      ev,
      encodeErrorFrame({ code: r.code, message: r.message, id, retryAfterMs: r.retryAfterMs }),
    );
  }

  count(kind: EventKind, result: EventResult): void {
    // One per event: the labelled child is looked up once, not hashed from labels each time.
    const key = `${kind}/${result}`;
    let c = this.#eventCounters.get(key);
    if (c === undefined) {
      c = this.metrics.events.labels({ kind, result });
      this.#eventCounters.set(key, c);
    }
    c.inc();
  }

  reply(from: GatewayRef, ev: ClientEvent, kind: ReplyKind): void {
    this.fleet.reply(from, create(ReplySchema, { eventId: ev.eventId, connectionId: ev.connectionId, kind }));
  }

  /** A frame or done reply: nearly every event gets one, so a literal rather than create(). */
  #plainReply(from: GatewayRef, ev: ClientEvent, kind: Reply["kind"]): void {
    this.fleet.reply(from, {
      $typeName: REPLY_TYPE,
      eventId: ev.eventId,
      connectionId: ev.connectionId,
      gatewayEpoch: "",
      kind,
    });
  }

  /** Answers with a client frame to write to the event's connection. */
  frame(from: GatewayRef, ev: ClientEvent, frame: Uint8Array): void {
    this.#plainReply(from, ev, { case: "frame", value: frame });
  }

  /** Counts the outcome and answers with no client-visible frame. */
  done(from: GatewayRef, ev: ClientEvent, kind: EventKind, result: EventResult): void {
    this.count(kind, result);
    this.#plainReply(from, ev, { case: "done", value: DONE });
  }

  /** Counts the outcome and answers with an error frame naming `id` (a room or a message id). */
  refuse(
    from: GatewayRef,
    ev: ClientEvent,
    kind: EventKind,
    result: EventResult,
    code: string,
    message: string,
    id: string,
  ): void {
    this.count(kind, result);
    this.frame(from, ev, encodeErrorFrame({ code, message, id }));
  }

  /** True when `room` is a valid name the principal may read; otherwise refuses (invalid_field or forbidden). */
  mayRead(from: GatewayRef, ev: ClientEvent, kind: EventKind, room: string, p: Principal): boolean {
    if (!validRoom(room)) {
      this.refuse(from, ev, kind, "invalid", ERROR_CODES.invalidField.code, "invalid room name", room);
      return false;
    }
    if (!matchesAny(p.read, room)) {
      this.refuse(from, ev, kind, "denied", ERROR_CODES.forbidden.code, "no read access to room", room);
      return false;
    }
    return true;
  }

  /**
   * Whether the principal the gateway attached is one logic issued to this
   * connection; otherwise the event is refused (the connection is closed) and
   * counted. Every event with a principal passes here, whatever its kind.
   */
  sealed(from: GatewayRef, ev: ClientEvent, p: Principal): boolean {
    const check = this.principals.verify(p, from, ev.connectionId);
    let c = this.#principalChecks.get(check);
    if (c === undefined) {
      c = this.metrics.principalChecks.labels({ result: check });
      this.#principalChecks.set(check, c);
    }
    c.inc();
    if (principalAccepted(check)) return true;
    this.count(ev.kind.case ?? "unknown", "denied");
    this.log.warn(
      { gateway: from.id, epoch: from.epoch, connectionId: ev.connectionId, check },
      "refused an event whose principal logic did not sign for this connection",
    );
    const err = new AuthError("principal_invalid", "the connection's identity was not issued by logic");
    this.reply(from, ev, { case: "close", value: { closeCode: err.closeCode, reason: err.code } });
    return false;
  }

  /** The event's principal when it may act now; otherwise replies (close) and returns undefined. */
  principal(from: GatewayRef, ev: ClientEvent, kind: EventKind): Principal | undefined {
    const p = ev.principal;
    if (p === undefined || p.userId === "") {
      this.count(kind, "denied");
      this.reply(from, ev, {
        case: "close",
        value: { closeCode: CLOSE_CODES.unauthorized.code, reason: "unauthenticated" },
      });
      return undefined;
    }
    if (p.expiresAtMs !== 0n && this.now() >= Number(p.expiresAtMs)) {
      this.count(kind, "expired");
      this.metrics.authResults.inc({ result: "error", reason: "token_expired" });
      this.reply(from, ev, {
        case: "close",
        value: { closeCode: CLOSE_CODES.tokenExpired.code, reason: "token_expired" },
      });
      return undefined;
    }
    // A connection that authenticated before its ban (or its token's revocation) reached this process.
    const m = this.moderation;
    if (m !== undefined) {
      const now = this.now();
      const banned = m.banOf(p.userId, now) !== undefined;
      if (banned || m.revocationOf(p.tokenId, now) !== undefined) {
        this.count(kind, "denied");
        this.reply(from, ev, {
          case: "close",
          value: banned
            ? { closeCode: CLOSE_CODES.banned.code, reason: "banned" }
            : { closeCode: CLOSE_CODES.unauthorized.code, reason: "token_revoked" },
        });
        return undefined;
      }
    }
    return p;
  }

  /** A store call failed: a StoreError becomes its error frame (anything else is a bug and rethrown). */
  storeFailure(from: GatewayRef, ev: ClientEvent, kind: EventKind, err: unknown, id: string): void {
    if (!(err instanceof StoreError)) throw err;
    this.count(kind, err.retryable ? "unavailable" : "invalid");
    if (err.code !== "overloaded" && err.code !== "invalid_argument") {
      this.log.warn({ code: err.code, err: err.message }, "store operation failed");
    }
    this.frame(from, ev, storeErrorFrame(err, id, this.admission));
  }

  /** A handler threw (a bug): the event still gets its one reply. */
  internal(from: GatewayRef, ev: ClientEvent, kind: EventKind, err: unknown): void {
    this.count(kind, "error");
    this.log.error({ err, kind, eventId: String(ev.eventId) }, "event handler failed");
    this.frame(from, ev, encodeErrorFrame({ code: ERROR_CODES.internal.code, message: "internal error" }));
  }
}

export function validRoom(room: string): boolean {
  return room.length > 0 && room.length <= PROTOCOL_BOUNDS.maxRoomLength && ROOM_PATTERN.test(room);
}

/**
 * Retryable store failures become `unavailable` (the client retries the same
 * frame after retry_after_ms; the store deduplicates); the message names the
 * cause without internals.
 */
export function storeErrorFrame(err: StoreError, id: string, admission: AppendAdmission): Uint8Array {
  if (!err.retryable) {
    return encodeErrorFrame({ code: ERROR_CODES.invalidField.code, message: "rejected by the store", id });
  }
  // An overloaded process hints after its measured backlog; an unreachable store after about a failover.
  const overloaded = err.code === "overloaded";
  return encodeErrorFrame({
    code: ERROR_CODES.unavailable.code,
    message: overloaded ? "server overloaded, retry" : "store unavailable, retry",
    id,
    retryAfterMs: overloaded ? admission.hint() : admission.hint(STORE_UNAVAILABLE_RETRY_MS / 2),
  });
}
