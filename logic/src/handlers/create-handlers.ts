import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type ClientEvent,
  type JoinRequest,
  type Principal,
  PrincipalSchema,
  ReplySchema,
  type SendRequest,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { Logger } from "../../../platform/logger.ts";
import {
  CLOSE_CODES,
  ERROR_CODES,
  encodeAckFrame,
  encodeErrorFrame,
  encodeJoinedFrame,
  encodeMessageFrame,
  PROTOCOL_BOUNDS,
  ROOM_PATTERN,
} from "../../../protocol/index.ts";
import { AuthError } from "../auth/auth-error.ts";
import type { Authenticator } from "../auth/authenticator.ts";
import { matchesAny } from "../auth/room-pattern.ts";
import type { EventSink, GatewayFleet, GatewayRef } from "../gateway-fleet.ts";
import { InMemoryPresenceTable } from "../store/in-memory-presence-table.ts";
import { messageIdProblem } from "../store/input-checks.ts";
import type { MessageStore } from "../store/message-store.ts";
import type { PresenceTable } from "../store/presence-table.ts";
import { StoreError } from "../store/store-error.ts";
import type { EventKind, EventResult, LogicMetrics } from "./logic-metrics.ts";
import { PresenceHandlers } from "./presence-handlers.ts";

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
   * Shared presence (docs/presence.md). Default: a table private to this
   * process, exact only while it is the only logic process.
   */
  readonly presence?: PresenceTable;
}

type ReplyKind = NonNullable<MessageInitShape<typeof ReplySchema>["kind"]>;

/** Largest history page a join returns, in bytes of message frames (the rest comes as the next page). */
export const JOIN_PAGE_MAX_BYTES = 256 * 1024;

/** Client-visible hint for retryable errors: long enough for a reconnect or a store failover. */
const RETRY_AFTER_MS = 1000;
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The logic tier's event handling: every client event gets exactly one Reply
 * (which is also its ack to the gateway), whatever happens. One event's failure
 * never touches the others in its batch, and nothing throws out of onEvents.
 *
 * Handlers keep no per-connection state: the gateway attaches the Principal
 * (user id, room patterns, expiry) logic issued at auth to every later event.
 * Sends are idempotent through the store's deduplication on the client message
 * id, so a gateway may resend an unanswered event to another logic process.
 */
export function createHandlers(deps: HandlerDeps): EventSink {
  return new Handlers(deps);
}

class Handlers implements EventSink {
  readonly #d: HandlerDeps;
  readonly #now: () => number;
  readonly #presence: PresenceHandlers;

  constructor(deps: HandlerDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#presence = new PresenceHandlers({
      table: deps.presence ?? new InMemoryPresenceTable(),
      store: deps.store,
      fleet: deps.fleet,
      log: deps.log,
      now: this.#now,
      reply: (from, ev, kind) => this.#reply(from, ev, kind),
      count: (kind, result) => this.#count(kind, result),
      metrics: deps.metrics,
    });
  }

  onEvents(from: GatewayRef, events: readonly ClientEvent[]): void {
    for (const ev of events) {
      try {
        this.#dispatch(from, ev);
      } catch (err) {
        // Only a bug lands here; the event still gets its one reply.
        this.#internal(from, ev, kindOf(ev), err);
      }
    }
  }

  #dispatch(from: GatewayRef, ev: ClientEvent): void {
    const k = ev.kind;
    switch (k.case) {
      case "auth":
        void this.#auth(from, ev, k.value.token, k.value.refresh).catch((err: unknown) =>
          this.#internal(from, ev, "auth", err),
        );
        return;
      case "send": {
        const p = this.#principal(from, ev, "send");
        if (p !== undefined) {
          void this.#send(from, ev, p, k.value).catch((err: unknown) =>
            this.#internal(from, ev, "send", err),
          );
        }
        return;
      }
      case "join": {
        const p = this.#principal(from, ev, "join");
        if (p !== undefined) {
          void this.#join(from, ev, p, k.value).catch((err: unknown) =>
            this.#internal(from, ev, "join", err),
          );
        }
        return;
      }
      case "presenceChange":
        void this.#presence
          .change(from, ev, k.value)
          .catch((err: unknown) => this.#internal(from, ev, "presenceChange", err));
        return;
      case "presenceLease":
        void this.#presence
          .lease(from, ev, k.value)
          .catch((err: unknown) => this.#internal(from, ev, "presenceLease", err));
        return;
      case "presenceQuery": {
        const p = this.#principal(from, ev, "presenceQuery");
        if (p !== undefined) {
          void this.#presence
            .query(from, ev, p, k.value)
            .catch((err: unknown) => this.#internal(from, ev, "presenceQuery", err));
        }
        return;
      }
      case "signal": {
        const p = this.#principal(from, ev, "signal");
        if (p !== undefined) this.#presence.signal(from, ev, p, k.value);
        return;
      }
      case "readMarker": {
        const p = this.#principal(from, ev, "readMarker");
        if (p !== undefined) {
          void this.#presence
            .readMarker(from, ev, p, k.value)
            .catch((err: unknown) => this.#internal(from, ev, "readMarker", err));
        }
        return;
      }
      case "leave":
      case "closed":
        this.#count(k.case, "ok");
        this.#reply(from, ev, { case: "done", value: {} });
        return;
      default:
        this.#count("unknown", "invalid");
        this.#frame(
          from,
          ev,
          encodeErrorFrame({ code: ERROR_CODES.invalidField.code, message: "empty event" }),
        );
    }
  }

  async #auth(from: GatewayRef, ev: ClientEvent, token: string, refresh: boolean): Promise<void> {
    const m = this.#d.metrics;
    try {
      const id = await this.#d.auth.verify(token);
      if (refresh && ev.principal !== undefined && ev.principal.userId !== id.userId) {
        throw new AuthError("subject_mismatch", "a refreshed token must name the same user");
      }
      m.authResults.inc({ result: "ok", reason: "ok" });
      this.#count("auth", "ok");
      const principal = create(PrincipalSchema, {
        userId: id.userId,
        read: [...id.read],
        write: [...id.write],
        expiresAtMs: BigInt(id.expiresAtMs),
      });
      this.#reply(from, ev, { case: "auth", value: { ok: true, principal } });
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      m.authResults.inc({ result: "error", reason: err.code });
      this.#count("auth", err.code === "key_unavailable" ? "error" : "denied");
      if (err.code === "key_unavailable") this.#d.log.error({ err: err.cause }, "token verification failed");
      this.#reply(from, ev, {
        case: "auth",
        value: { ok: false, errorCode: err.code, errorMessage: err.reason, closeCode: err.closeCode },
      });
    }
  }

  /** The event's principal when it may act now; otherwise replies (close) and returns undefined. */
  #principal(from: GatewayRef, ev: ClientEvent, kind: EventKind): Principal | undefined {
    const p = ev.principal;
    if (p === undefined || p.userId === "") {
      this.#count(kind, "denied");
      this.#reply(from, ev, {
        case: "close",
        value: { closeCode: CLOSE_CODES.unauthorized.code, reason: "unauthenticated" },
      });
      return undefined;
    }
    if (p.expiresAtMs !== 0n && this.#now() >= Number(p.expiresAtMs)) {
      this.#count(kind, "expired");
      this.#d.metrics.authResults.inc({ result: "error", reason: "token_expired" });
      this.#reply(from, ev, {
        case: "close",
        value: { closeCode: CLOSE_CODES.tokenExpired.code, reason: "token_expired" },
      });
      return undefined;
    }
    return p;
  }

  async #send(from: GatewayRef, ev: ClientEvent, p: Principal, req: SendRequest): Promise<void> {
    const { room, clientMsgId: id } = req;
    const refuse = (result: EventResult, code: string, message: string): void => {
      this.#count("send", result);
      this.#frame(from, ev, encodeErrorFrame({ code, message, id }));
    };
    if (!validRoom(room)) return refuse("invalid", ERROR_CODES.invalidField.code, "invalid room name");
    if (messageIdProblem(id) !== undefined || id.length > PROTOCOL_BOUNDS.maxClientMsgIdLength) {
      return refuse("invalid", ERROR_CODES.invalidField.code, "invalid message id");
    }
    if (!matchesAny(p.write, room))
      return refuse("denied", ERROR_CODES.forbidden.code, "no write access to room");
    if (req.body.byteLength > this.#d.limits.maxBodyBytes) {
      return refuse(
        "invalid",
        ERROR_CODES.bodyTooLarge.code,
        `body larger than ${this.#d.limits.maxBodyBytes} bytes`,
      );
    }
    let bodyText: string;
    try {
      bodyText = decoder.decode(req.body);
    } catch {
      return refuse("invalid", ERROR_CODES.invalidField.code, "body is not UTF-8");
    }
    // Delivery latency (docs/metrics.md) is measured from here: the store's time counts.
    const acceptedAtMs = performance.timeOrigin + performance.now();
    let r: Awaited<ReturnType<MessageStore["append"]>>;
    try {
      r = await this.#d.store.append(room, { id, from: p.userId, body: bodyText });
    } catch (err) {
      return this.#storeFailure(from, ev, "send", err, id);
    }
    if (r.duplicate && r.from !== p.userId) {
      // Ids are unique per sender; another user's message with this id must not be acked as ours.
      return refuse(
        "invalid",
        ERROR_CODES.invalidField.code,
        "id already used in this room by another sender",
      );
    }
    // Encoded once; every gateway and every socket gets these bytes. A resend
    // (duplicate) is delivered again, clients drop seqs they already have, and
    // it carries the stored body: a resend with another body must not show
    // recipients something history does not have.
    let bodyJson: Uint8Array | string = req.body;
    if (r.duplicate) {
      const stored = await this.#d.store.read(room, { since: r.seq - 1, limit: 1 }).then(
        (page) => page.messages.find((m) => m.seq === r.seq),
        () => undefined,
      );
      if (stored === undefined) {
        // Acknowledge without delivering: the message is stored, and a
        // recipient that missed it resumes from history.
        this.#d.metrics.duplicates.inc();
        this.#count("send", "duplicate");
        this.#frame(from, ev, encodeAckFrame({ id, room, seq: r.seq }));
        return;
      }
      bodyJson = stored.body;
    }
    const frame = encodeMessageFrame({
      room,
      seq: r.seq,
      prev: r.prev,
      id,
      from: p.userId,
      ts: r.ts,
      bodyJson,
    });
    this.#d.fleet.deliverToRoom(room, BigInt(r.seq), frame, acceptedAtMs);
    this.#d.metrics.messagesDelivered.inc();
    if (r.duplicate) this.#d.metrics.duplicates.inc();
    this.#count("send", r.duplicate ? "duplicate" : "ok");
    this.#frame(from, ev, encodeAckFrame({ id, room, seq: r.seq }));
  }

  async #join(from: GatewayRef, ev: ClientEvent, p: Principal, req: JoinRequest): Promise<void> {
    const room = req.room;
    const refuse = (result: EventResult, code: string, message: string): void => {
      this.#count("join", result);
      this.#reply(from, ev, {
        case: "join",
        value: { ok: false, room, frame: encodeErrorFrame({ code, message, id: room }) },
      });
    };
    if (!validRoom(room)) return refuse("invalid", ERROR_CODES.invalidField.code, "invalid room name");
    if (!matchesAny(p.read, room))
      return refuse("denied", ERROR_CODES.forbidden.code, "no read access to room");
    const max = this.#d.limits.maxHistoryPage;
    const limit = req.limit === 0 ? max : Math.min(req.limit, max);
    const since = req.since === undefined ? undefined : Number(req.since);
    let page: Awaited<ReturnType<MessageStore["read"]>>;
    try {
      page = await this.#d.store.read(room, since === undefined ? { limit } : { since, limit });
    } catch (err) {
      if (err instanceof StoreError) {
        const retryable = err.retryable;
        this.#count("join", retryable ? "unavailable" : "invalid");
        this.#reply(from, ev, {
          case: "join",
          value: { ok: false, room, frame: storeErrorFrame(err, room) },
        });
        return;
      }
      throw err;
    }
    // The page is also bounded in bytes: a page of large messages would
    // otherwise exceed the joiner's send queue (a slow-consumer close on join)
    // or the push stream's frame limit. What does not fit follows as the next
    // page (complete: false), which clients fetch by joining again from lastSeq.
    const messages: Uint8Array[] = [];
    let pageBytes = 0;
    let included = 0;
    for (const m of page.messages) {
      const frame = encodeMessageFrame({
        room,
        seq: m.seq,
        prev: m.prev,
        id: m.id,
        from: m.from,
        ts: m.ts,
        bodyJson: m.body,
      });
      if (included > 0 && pageBytes + frame.byteLength > JOIN_PAGE_MAX_BYTES) break;
      messages.push(frame);
      pageBytes += frame.byteLength;
      included++;
    }
    const truncated = included < page.messages.length;
    const lastSeq = page.messages[included - 1]?.seq ?? since ?? page.headSeq;
    this.#d.metrics.historyReads.inc({ source: "join" });
    this.#d.metrics.historyMessages.observe(messages.length);
    this.#count("join", "ok");
    this.#reply(from, ev, {
      case: "join",
      value: {
        ok: true,
        room,
        lastSeq: BigInt(lastSeq),
        frame: encodeJoinedFrame({ room, lastSeq, complete: page.complete && !truncated, messages }),
      },
    });
  }

  #storeFailure(from: GatewayRef, ev: ClientEvent, kind: EventKind, err: unknown, id: string): void {
    if (!(err instanceof StoreError)) throw err;
    this.#count(kind, err.retryable ? "unavailable" : "invalid");
    if (err.code !== "overloaded" && err.code !== "invalid_argument") {
      this.#d.log.warn({ code: err.code, err: err.message }, "store operation failed");
    }
    this.#frame(from, ev, storeErrorFrame(err, id));
  }

  #internal(from: GatewayRef, ev: ClientEvent, kind: EventKind, err: unknown): void {
    this.#count(kind, "error");
    this.#d.log.error({ err, kind, eventId: String(ev.eventId) }, "event handler failed");
    this.#frame(from, ev, encodeErrorFrame({ code: ERROR_CODES.internal.code, message: "internal error" }));
  }

  #count(kind: EventKind, result: EventResult): void {
    this.#d.metrics.events.inc({ kind, result });
  }

  #frame(from: GatewayRef, ev: ClientEvent, frame: Uint8Array): void {
    this.#reply(from, ev, { case: "frame", value: frame });
  }

  #reply(from: GatewayRef, ev: ClientEvent, kind: ReplyKind): void {
    this.#d.fleet.reply(
      from,
      create(ReplySchema, { eventId: ev.eventId, connectionId: ev.connectionId, kind }),
    );
  }
}

function validRoom(room: string): boolean {
  return room.length <= PROTOCOL_BOUNDS.maxRoomLength && ROOM_PATTERN.test(room);
}

/**
 * Retryable store failures become `unavailable` (the client retries the same
 * frame after retry_after_ms; the store deduplicates); the message names the
 * cause without internals.
 */
function storeErrorFrame(err: StoreError, id: string): Uint8Array {
  if (!err.retryable) {
    return encodeErrorFrame({ code: ERROR_CODES.invalidField.code, message: "rejected by the store", id });
  }
  const message = err.code === "overloaded" ? "server overloaded, retry" : "message store unavailable, retry";
  return encodeErrorFrame({ code: ERROR_CODES.unavailable.code, message, id, retryAfterMs: RETRY_AFTER_MS });
}

function kindOf(ev: ClientEvent): EventKind {
  return ev.kind.case ?? "unknown";
}
