import type { BackoffOptions } from "../../protocol/backoff.ts";
import type { ResultFrame } from "../../protocol/call-frames.ts";
import type {
  AckFrame,
  ErrorFrame,
  JoinedFrame,
  LeftFrame,
  MessageFrame,
  ServerFrame,
  WelcomeFrame,
} from "../../protocol/client-frames.ts";
import { DEFAULT_RETRY_HORIZON_MS, isRetryableError, SUBPROTOCOL } from "../../protocol/client-frames.ts";
import { CLOSE_CODES } from "../../protocol/close-codes.ts";
import type { DisconnectFrame } from "../../protocol/command-frames.ts";
import type { PresencePageFrame, ReadsPageFrame } from "../../protocol/presence-frames.ts";
import { ChatClientError } from "./client-error.ts";
import type { ChatClientEvents, ClientState, StateChange } from "./client-events.ts";
import { Outbox, type OutboxFrame, type Pending } from "./outbox.ts";
import { Pacer } from "./pacer.ts";
import { type QueryAnswer, QueryTable } from "./query-table.ts";
import { ReconnectPolicy } from "./reconnect-policy.ts";
import { Resender } from "./resender.ts";
import type { RetryBudgetOptions } from "./retry-budget.ts";
import { type RoomState, RoomTracker } from "./room-tracker.ts";
import { TypedEmitter } from "./typed-emitter.ts";
import { OPEN, type WebSocketConstructor, type WebSocketLike } from "./websocket-like.ts";

export interface ChatClientOptions {
  /** ws:// or wss:// URL of the gateway (or its load balancer). */
  url: string;
  /** The bearer token, or a function returning a fresh one for each (re)connect. */
  token: string | (() => string | Promise<string>);
  /** Defaults to globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect backoff with full jitter (default: from 500 ms, doubling up to 30 s). */
  backoff?: Partial<BackoffOptions>;
  /** Unacknowledged sends kept for retry (default 1000); send() rejects beyond it. */
  outboxLimit?: number;
  /** Resend an unacknowledged message after this long on the same connection (default 10 000 ms). */
  ackTimeoutMs?: number;
  /**
   * Stop resending a send this long after it first went on the wire and
   * reject it with `expired` (default 60 000 ms). The server stores a
   * resent id once only within its idempotency window (120 s by default);
   * keep this below that window minus the server's store timeout, so no
   * resend can arrive after the server forgot the id and store it twice.
   */
  retryHorizonMs?: number;
  /**
   * How many resends (of refused or unanswered sends) the client may make:
   * `ratio` per first send plus `minPerSecond`, at most `max` saved up
   * (default 0.2, 1 and 20). Resends beyond it wait, they are not dropped.
   */
  retryBudget?: Partial<RetryBudgetOptions>;
  /**
   * Frames other than sends (joins, leaves, signals, read markers, queries)
   * that may wait for the pacer (default 1000). Beyond it they are dropped
   * (`droppedFrames`), a query rejects with `backlog_full`, and one `error`
   * event `backlog_full` says so until the backlog has emptied.
   */
  backlogLimit?: number;
  /** Randomness for jitter and message ids; injectable for tests. */
  random?: () => number;
}

// Until a welcome says otherwise (protocol defaults, with a margin).
const DEFAULT_RATE = 18;
const DEFAULT_BURST = 38;
/** Reconnect backoff ceilings: from 500 ms up to 30 s. */
const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ initialMs: 500, maxMs: 30_000 });

/**
 * ChatCluster client: one logical session over any number of WebSocket
 * connections. Rooms are re-joined from their last seq after every reconnect,
 * messages are delivered exactly once and in order per room (duplicates by seq
 * are dropped; a gap by prev triggers a resume), and sends are retried with the
 * same id until acknowledged.
 *
 * This class is the session's state machine and its public surface; the
 * parts are in files of their own: reconnect-policy.ts (when to come back),
 * room-tracker.ts (resume and exactly-once per room), outbox.ts (sends until
 * acked), query-table.ts (presence and read-marker queries), pacer.ts (stay
 * under the server's rate).
 */
export class ChatClient extends TypedEmitter<ChatClientEvents> {
  private readonly opts: ChatClientOptions;
  private readonly WS: WebSocketConstructor;
  private readonly random: () => number;
  private readonly ackTimeoutMs: number;
  private readonly reconnect: ReconnectPolicy;
  private readonly rooms = new RoomTracker();
  private readonly outbox: Outbox;
  private readonly resender: Resender;
  private readonly queries: QueryTable;
  private readonly pacer: Pacer;
  private ws: WebSocketLike | null = null;
  private current: ClientState = "connecting";
  private heartbeatMs = 25_000;
  private lastHeard = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private ticker: ReturnType<typeof setInterval> | null = null;
  private idCounter = 0;
  private readonly idPrefix: string;
  private userClosed = false;
  private welcomeInfo: WelcomeFrame | null = null;
  /** The server's `disconnect` frame on this connection: whether to come back after its close. */
  private told: DisconnectFrame | null = null;

  constructor(opts: ChatClientOptions) {
    super();
    this.opts = opts;
    const ctor = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ctor) throw new Error("no WebSocket implementation: pass options.WebSocket");
    this.WS = ctor;
    this.random = opts.random ?? Math.random;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 10_000;
    this.reconnect = new ReconnectPolicy({ ...DEFAULT_BACKOFF, ...opts.backoff }, this.random);
    const retryHorizonMs = opts.retryHorizonMs ?? DEFAULT_RETRY_HORIZON_MS;
    if (!(retryHorizonMs > 0)) throw new Error("retryHorizonMs must be a positive number of ms");
    this.outbox = new Outbox(opts.outboxLimit ?? 1000, this.ackTimeoutMs, retryHorizonMs, this.random);
    this.resender = new Resender(this.outbox, opts.retryBudget ?? {}, this.random, (id, p) => {
      if (this.current !== "open" || !this.ws) return false;
      this.sendPending(id, p);
      return true;
    });
    this.queries = new QueryTable(this.ackTimeoutMs);
    this.pacer = new Pacer(
      () => this.ws,
      DEFAULT_RATE,
      DEFAULT_BURST,
      opts.backlogLimit ?? 1000,
      () =>
        this.emit("error", {
          code: "backlog_full",
          message: "frames are written faster than the server's rate allows; dropping them",
        }),
    );
    this.idPrefix = Math.floor(this.random() * 2 ** 32).toString(36);
  }

  get state(): ClientState {
    return this.current;
  }
  /** The last welcome (user, connection id, limits), or null before the first. */
  get welcome(): WelcomeFrame | null {
    return this.welcomeInfo;
  }
  /** Highest seq delivered for a room (0 when none). */
  lastSeq(room: string): number {
    return this.rooms.get(room)?.lastSeq ?? 0;
  }
  /** Unacknowledged sends. */
  get outboxSize(): number {
    return this.outbox.size;
  }
  /** Frames other than sends dropped because the pacer's backlog was full. */
  get droppedFrames(): number {
    return this.pacer.dropped;
  }

  /** Opens the session; reconnects on its own until close(). */
  connect(): this {
    this.userClosed = false;
    if (this.ticker === null) this.ticker = setInterval(() => this.tick(), 1000);
    this.open();
    return this;
  }

  /**
   * Joins a room (again after every reconnect). `since` resumes after that seq;
   * `presence: true` also delivers `presence` events (joined/left) for the room.
   */
  join(room: string, opts: { since?: number; presence?: boolean } = {}): void {
    const r = this.rooms.join(room, opts.since, opts.presence === true);
    if (this.current === "open") this.sendJoin(room, r);
  }

  /** Who is online in `room` now: a page of user ids (sorted) and the exact total. */
  presence(room: string, opts: { after?: string; limit?: number } = {}): Promise<PresencePageFrame> {
    return this.query(`presence ${room}`, { type: "presence", room, ...opts });
  }

  /**
   * An ephemeral signal (e.g. kind `typing`) for the room's other members:
   * never stored, never replayed, dropped when not connected. The server
   * rate-limits signals per connection (5/s, burst 10 by default).
   */
  signal(room: string, kind: string, body?: unknown): void {
    if (this.current !== "open") return;
    this.pacer.write(
      body === undefined ? { type: "signal", room, kind } : { type: "signal", room, kind, body },
    );
  }

  /**
   * Moves this user's read marker in `room` forward to `seq`. `notify: "room"`
   * (default) tells the room's members with a `read` event; `"self"` tells
   * this user's connections (its other devices, and this one).
   */
  markRead(room: string, seq: number, notify: "room" | "self" = "room"): void {
    if (this.current === "open") this.pacer.write({ type: "read", room, seq, notify });
  }

  /** Stored read markers of `users` (default: this user) in `room`. */
  readMarkers(room: string, users?: string[]): Promise<ReadsPageFrame> {
    return this.query(`reads ${room}`, users ? { type: "reads", room, users } : { type: "reads", room });
  }

  leave(room: string): void {
    if (!this.rooms.leave(room)) return;
    if (this.current === "open") this.pacer.write({ type: "leave", room });
  }

  /**
   * Hands the open connection a fresh token (`token`, else one from the
   * token function), e.g. before the current one expires, without a
   * reconnect. Success is a new `welcome` event; rooms the new token no
   * longer grants are left (a `left` event each); a refused token closes the
   * connection like a failed auth. Not connected: nothing to do, the next
   * connection authenticates with a fresh token anyway.
   */
  async refreshToken(token?: string): Promise<void> {
    if (this.current !== "open") return;
    const ws = this.ws;
    const fresh = token ?? (await this.freshToken());
    if (fresh !== undefined && this.ws === ws && this.current === "open")
      this.pacer.write({ type: "auth", token: fresh });
  }

  /**
   * Publishes `body` to `room`. Resolves with the ack (its seq) once stored;
   * retried with the same id across reconnects until then, for at most
   * `retryHorizonMs` after its first transmission. Rejects when the server
   * refuses it for good, when the horizon passes (`expired`), when the
   * outbox is full, or on close().
   */
  send(room: string, body: unknown, id?: string): Promise<AckFrame> {
    return this.enqueue({ type: "send", room, body }, id);
  }

  /**
   * Replaces the body of one of this user's messages (`target`: its seq).
   * The edit is a new event of the room (its own seq, in the ack); members
   * get it as a `message` with `kind: "edit"`. Retried like send().
   */
  edit(room: string, target: number, body: unknown, id?: string): Promise<AckFrame> {
    return this.enqueue({ type: "edit", room, target, body }, id);
  }

  /** Deletes one of this user's messages (`target`: its seq); members get a `message` with `kind: "delete"`. */
  delete(room: string, target: number, id?: string): Promise<AckFrame> {
    return this.enqueue({ type: "delete", room, target }, id);
  }

  /**
   * Calls `method` of the team's backend (its Rpc hook) and resolves with the
   * answer, which only this connection gets. Not retried: rejects (code
   * `rejected`) with the server's error code, or when no answer came within
   * ackTimeoutMs, and (code `closed`) when not connected.
   */
  async call(method: string, params?: unknown): Promise<unknown> {
    const id = `${this.idPrefix}-c${++this.idCounter}`;
    const frame = params === undefined ? { type: "call", id, method } : { type: "call", id, method, params };
    return (await this.query<ResultFrame>(`call ${id}`, frame)).result;
  }

  private enqueue(frame: OutboxFrame, id?: string): Promise<AckFrame> {
    const msgId = id ?? `${this.idPrefix}-${++this.idCounter}`;
    const acked = this.outbox.add(msgId, frame);
    const p = this.outbox.get(msgId);
    if (p !== undefined) this.resender.earn();
    if (p !== undefined && this.current === "open") this.sendPending(msgId, p);
    return acked;
  }

  /** Ends the session: no more reconnects; pending sends reject. */
  close(): void {
    this.userClosed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.resender.stop();
    this.pacer.stop();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= OPEN) ws.close(1000, "client closed");
    this.outbox.rejectAll(new ChatClientError("closed", "client closed"));
    this.queries.rejectAll(new ChatClientError("closed", "client closed"));
    this.setState({ state: "closed", code: 1000 });
  }

  private query<T extends QueryAnswer>(key: string, frame: object): Promise<T> {
    if (this.current !== "open") return Promise.reject(new ChatClientError("closed", "not connected"));
    const answer = this.queries.wait<T>(key);
    const written = this.pacer.write(frame);
    if (written === "dropped")
      this.queries.abandonNewest(key, new ChatClientError("backlog_full", `${key}: not sent, backlog full`));
    else if (written === "offline")
      this.queries.abandonNewest(key, new ChatClientError("closed", "not connected"));
    return answer;
  }

  private setState(change: StateChange): void {
    this.current = change.state;
    this.emit("state", change);
  }

  private async open(): Promise<void> {
    this.setState({ state: "connecting" });
    const token = await this.freshToken();
    if (token === undefined) {
      this.scheduleReconnect(CLOSE_CODES.unauthorized.code);
      return;
    }
    if (this.userClosed) return;
    const ws = new this.WS(this.opts.url, [SUBPROTOCOL]);
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      this.setState({ state: "authenticating" });
      this.pacer.reset(DEFAULT_RATE, DEFAULT_BURST);
      this.pacer.spend();
      ws.send(JSON.stringify({ type: "auth", token }));
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(ev.data)) as ServerFrame;
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const told = this.told;
      this.told = null;
      if (this.userClosed) return;
      if (told?.reconnect === false) {
        // The team's backend said not to come back (a ban, the end of a session).
        this.emit("error", { code: "disconnected", message: `${told.code} ${told.reason}` });
        this.close();
        return;
      }
      this.scheduleReconnect(ev.code);
    };
  }

  /** The token option's value, or the token function's answer; undefined (and an `error` event) when it threw. */
  private async freshToken(): Promise<string | undefined> {
    try {
      return typeof this.opts.token === "function" ? await this.opts.token() : this.opts.token;
    } catch (err) {
      this.emit("error", { code: "token_provider", message: String(err) });
      return undefined;
    }
  }

  private scheduleReconnect(code: number, hintMs?: number): void {
    this.rooms.connectionLost();
    const next = this.reconnect.next(code, typeof this.opts.token === "function", hintMs);
    if ("stop" in next) {
      this.emit("error", next.stop);
      this.close();
      return;
    }
    this.setState({ state: "reconnecting", code, retryInMs: next.delayMs });
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.userClosed) this.open();
    }, next.delayMs);
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case "welcome":
        this.welcomeInfo = f;
        if (this.current === "open") {
          // The answer to refreshToken(): same connection, rooms and sends stay as they are.
          this.emit("welcome", f);
          return;
        }
        // Stay under the server's per-connection rate: a burst of re-joins and outbox resends after a
        // reconnect must not earn rate_limited errors (or a 4008 close).
        this.pacer.reset(f.limits.messages_per_second * 0.9, Math.max(1, f.limits.message_burst - 2));
        this.heartbeatMs = f.heartbeat_ms;
        this.reconnect.succeeded();
        this.setState({ state: "open" });
        this.emit("welcome", f);
        for (const [room, r] of this.rooms.entries()) this.sendJoin(room, r);
        for (const [id, p] of this.outbox.entries()) this.sendPending(id, p);
        return;
      case "message":
        this.onMessage(f);
        return;
      case "joined":
        this.onJoined(f);
        return;
      case "ack":
        this.outbox.ack(f);
        return;
      case "error":
        this.onError(f);
        return;
      case "left":
        this.onLeft(f);
        return;
      case "presence":
        this.queries.answer(`presence ${f.room}`, f);
        return;
      case "reads":
        this.queries.answer(`reads ${f.room}`, f);
        return;
      case "result":
        this.queries.answer(`call ${f.id}`, f);
        return;
      case "subscribed":
        // The backend made this connection a member: its messages after last_seq follow, resumed like a join's.
        this.rooms.subscribed(f.room, f.last_seq);
        this.emit("subscribed", f);
        return;
      case "unsubscribed":
        this.rooms.leave(f.room);
        this.emit("unsubscribed", f);
        return;
      case "disconnect":
        this.told = f;
        this.emit("disconnect", f);
        return;
      case "presence_change":
        this.emit("presence", f);
        return;
      case "signal":
        if (f.connection !== this.welcomeInfo?.connection_id) this.emit("signal", f);
        return;
      case "read":
        this.emit("read", f);
        return;
      case "reconnect": {
        // Move before the gateway goes away; it spread these hints over its drain window.
        const ws = this.ws;
        if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
        this.reconnectTimer = setTimeout(() => {
          this.reconnectTimer = null;
          if (this.ws !== ws || ws === null) return;
          this.ws = null;
          ws.close(1000, "reconnect hint");
          this.scheduleReconnect(CLOSE_CODES.draining.code, 0);
        }, f.after_ms);
        return;
      }
      default:
        return;
    }
  }

  private onMessage(m: MessageFrame): void {
    switch (this.rooms.accept(m)) {
      case "deliver":
        this.emit("message", m);
        return;
      case "gap": {
        // A hole: something between lastSeq and prev was lost (e.g. a dropped queue). Resume.
        const r = this.rooms.get(m.room) as RoomState;
        if (!r.joining) this.sendJoin(m.room, r);
        return;
      }
      default:
        return;
    }
  }

  private onJoined(j: JoinedFrame): void {
    const fresh = this.rooms.joined(j);
    if (fresh === undefined) return;
    for (const m of fresh) this.emit("message", m);
    this.emit("joined", j);
    if (!j.complete) this.sendJoin(j.room, this.rooms.get(j.room) as RoomState);
  }

  private onError(e: ErrorFrame): void {
    this.emit("error", e.id === undefined ? { code: e.code, message: e.message } : e);
    if (e.id === undefined) return;
    const id = e.id;
    // Resent once its hint and jitter passed, within the retry budget.
    if (this.outbox.refuse({ ...e, id }, Date.now())) {
      this.resender.refused();
      return;
    }
    if (this.queries.fail(`call ${id}`, new ChatClientError("rejected", `${e.code}: ${e.message}`))) return;
    const r = this.rooms.joinRefused(id, isRetryableError(e.code));
    if (r === undefined) return;
    setTimeout(() => {
      if (this.rooms.get(id) === r && this.current === "open") this.sendJoin(id, r);
    }, e.retry_after_ms ?? 1000);
  }

  /** The server ended a membership (the token no longer grants the room): it is not re-joined. */
  private onLeft(f: LeftFrame): void {
    if (this.rooms.leave(f.room)) this.emit("left", f);
  }

  private sendJoin(room: string, r: RoomState): void {
    // A join the pacer dropped is not in flight: a gap or the next welcome tries again.
    const written = this.pacer.write(this.rooms.joinFrame(room, r));
    if (written === "dropped" || written === "offline") r.joining = false;
  }

  private sendPending(id: string, p: Pending): void {
    const now = Date.now();
    // Past its horizon the store may have forgotten the id: reject, never resend.
    if (p.expiresAt > 0 && now >= p.expiresAt) {
      this.outbox.expire(now);
      return;
    }
    p.retryAt = 0;
    const written = this.pacer.write({ ...p.frame, id }, p);
    if (written === "written" || written === "queued") this.outbox.transmitted(p, now);
  }

  /** One timer per client: heartbeat pings, dead-connection detection, ack timeouts, retry horizons. */
  private tick(): void {
    const now = Date.now();
    // Also while disconnected: a send past its horizon fails now, not when the client is back.
    this.outbox.expire(now);
    if (this.current !== "open" || !this.ws) return;
    if (now - this.lastHeard > 2 * this.heartbeatMs) {
      const ws = this.ws;
      this.ws = null;
      ws.close(4010, "no traffic from server");
      this.scheduleReconnect(CLOSE_CODES.heartbeatTimeout.code);
      return;
    }
    if (now - this.lastHeard > this.heartbeatMs / 2) this.pacer.write({ type: "ping", ts: now });
    this.resender.resendDue();
  }
}
