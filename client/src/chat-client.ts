import { type BackoffOptions, backoffDelayMs } from "../../protocol/backoff.ts";
import type {
  AckFrame,
  ErrorFrame,
  JoinedFrame,
  MessageFrame,
  ServerFrame,
  WelcomeFrame,
} from "../../protocol/client-frames.ts";
import { isRetryableError, SUBPROTOCOL } from "../../protocol/client-frames.ts";
import { CLOSE_CODES, closeCodeByNumber } from "../../protocol/close-codes.ts";
import type {
  PresenceChangeFrame,
  PresencePageFrame,
  ReadEventFrame,
  ReadsPageFrame,
  SignalEventFrame,
} from "../../protocol/presence-frames.ts";
import { TokenBucket } from "../../protocol/token-bucket.ts";
import { TypedEmitter } from "./typed-emitter.ts";

// Method-style parameter checking, so the DOM's and ws's handler types (with richer event types) fit.
type Handler<E> = { bivarianceHack(ev: E): void }["bivarianceHack"];

/** The part of the WHATWG WebSocket the SDK uses (browsers, Node 24's global, or `ws`). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler<never> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<never> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols: string | string[]) => WebSocketLike;

export type ClientState =
  /** Opening a socket (first time or after a backoff). */
  | "connecting"
  /** Socket open, auth sent, waiting for welcome. */
  | "authenticating"
  /** Welcome received: frames flow. */
  | "open"
  /** Lost the connection (or told to move); waiting to reconnect. */
  | "reconnecting"
  /** Stopped for good: close() was called or the server refused in a way retrying cannot fix. */
  | "closed";

export interface StateChange {
  state: ClientState;
  /** Close code that caused the change, when there was one. */
  code?: number;
  /** Delay before the next attempt, for "reconnecting". */
  retryInMs?: number;
}

export interface ClientErrorEvent {
  code: string;
  message: string;
  id?: string;
}

export interface ChatClientEvents extends Record<string, unknown> {
  message: MessageFrame;
  state: StateChange;
  joined: JoinedFrame;
  error: ClientErrorEvent;
  welcome: WelcomeFrame;
  /** Someone joined or left a room this client joined with `presence: true`. */
  presence: PresenceChangeFrame;
  /** An ephemeral signal from another connection (this client's own are dropped). */
  signal: SignalEventFrame;
  /** A member's read marker moved. */
  read: ReadEventFrame;
}

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
  /** Randomness for jitter and message ids; injectable for tests. */
  random?: () => number;
}

interface RoomState {
  /** Highest seq delivered to the app (0 = none yet). */
  lastSeq: number;
  /** A join for this room is in flight on the current connection. */
  joining: boolean;
  /** Received a joined frame at least once: later joins resume with since. */
  everJoined: boolean;
  /** Joined with presence changes (kept across reconnects). */
  presence: boolean;
}

interface Query {
  resolve: (frame: never) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface Pending {
  room: string;
  body: unknown;
  sentAt: number;
  /** Waiting in the pacer's backlog (not on the wire yet): no ack timeout runs. */
  queued: boolean;
  resolve: (ack: AckFrame) => void;
  reject: (err: Error) => void;
}

/** Raised by send() when the outbox is full and by pending sends when the client closes. */
export class ChatClientError extends Error {
  override readonly name = "ChatClientError";
  readonly code: "outbox_full" | "closed" | "rejected";
  constructor(code: "outbox_full" | "closed" | "rejected", message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

const OPEN = 1;
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
 */
export class ChatClient extends TypedEmitter<ChatClientEvents> {
  private readonly opts: ChatClientOptions;
  private readonly WS: WebSocketConstructor;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;
  private readonly outboxLimit: number;
  private readonly ackTimeoutMs: number;
  private ws: WebSocketLike | null = null;
  private current: ClientState = "connecting";
  private attempt = 0;
  private heartbeatMs = 25_000;
  private lastHeard = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private ticker: ReturnType<typeof setInterval> | null = null;
  private readonly rooms = new Map<string, RoomState>();
  private readonly outbox = new Map<string, Pending>();
  /** Presence and read-marker queries waiting for their answer, FIFO per `<type> <room>`. */
  private readonly queries = new Map<string, Query[]>();
  private idCounter = 0;
  private readonly idPrefix: string;
  private userClosed = false;
  private welcomeInfo: WelcomeFrame | null = null;
  // Pacer: a token bucket in front of the socket, sized from welcome.limits.
  private bucket = new TokenBucket(DEFAULT_RATE, DEFAULT_BURST, 0);
  private backlog: { text: string; pending: Pending | undefined }[] = [];
  private pacer: ReturnType<typeof setTimeout> | null = null;

  constructor(opts: ChatClientOptions) {
    super();
    this.opts = opts;
    const ctor = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ctor) throw new Error("no WebSocket implementation: pass options.WebSocket");
    this.WS = ctor;
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.random = opts.random ?? Math.random;
    this.outboxLimit = opts.outboxLimit ?? 1000;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 10_000;
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
    let r = this.rooms.get(room);
    if (!r) {
      r = { lastSeq: opts.since ?? 0, joining: false, everJoined: opts.since !== undefined, presence: false };
      this.rooms.set(room, r);
    }
    r.presence = opts.presence === true;
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
    this.write(body === undefined ? { type: "signal", room, kind } : { type: "signal", room, kind, body });
  }

  /**
   * Moves this user's read marker in `room` forward to `seq`. `notify: "room"`
   * (default) tells the room's members with a `read` event; `"self"` tells
   * this user's connections (its other devices, and this one).
   */
  markRead(room: string, seq: number, notify: "room" | "self" = "room"): void {
    if (this.current === "open") this.write({ type: "read", room, seq, notify });
  }

  /** Stored read markers of `users` (default: this user) in `room`. */
  readMarkers(room: string, users?: string[]): Promise<ReadsPageFrame> {
    return this.query(`reads ${room}`, users ? { type: "reads", room, users } : { type: "reads", room });
  }

  private query<T>(key: string, frame: object): Promise<T> {
    if (this.current !== "open") return Promise.reject(new ChatClientError("closed", "not connected"));
    return new Promise<T>((resolve, reject) => {
      const q: Query = {
        resolve: resolve as (f: never) => void,
        reject,
        timer: setTimeout(() => {
          const list = this.queries.get(key);
          const i = list?.indexOf(q) ?? -1;
          if (list && i >= 0) list.splice(i, 1);
          reject(new ChatClientError("rejected", `${key}: no answer within ${this.ackTimeoutMs} ms`));
        }, this.ackTimeoutMs),
      };
      let list = this.queries.get(key);
      if (!list) {
        list = [];
        this.queries.set(key, list);
      }
      list.push(q);
      this.write(frame);
    });
  }

  private answer(key: string, frame: PresencePageFrame | ReadsPageFrame): void {
    const q = this.queries.get(key)?.shift();
    if (!q) return;
    clearTimeout(q.timer);
    (q.resolve as (f: PresencePageFrame | ReadsPageFrame) => void)(frame);
  }

  leave(room: string): void {
    if (!this.rooms.delete(room)) return;
    if (this.current === "open") this.write({ type: "leave", room });
  }

  /**
   * Publishes `body` to `room`. Resolves with the ack (its seq) once stored;
   * retried with the same id across reconnects until then. Rejects when the
   * server refuses it for good, when the outbox is full, or on close().
   */
  send(room: string, body: unknown, id?: string): Promise<AckFrame> {
    if (this.outbox.size >= this.outboxLimit)
      return Promise.reject(new ChatClientError("outbox_full", `${this.outboxLimit} unacknowledged sends`));
    const msgId = id ?? `${this.idPrefix}-${++this.idCounter}`;
    return new Promise<AckFrame>((resolve, reject) => {
      const p: Pending = { room, body, sentAt: 0, queued: false, resolve, reject };
      this.outbox.set(msgId, p);
      if (this.current === "open") this.sendPending(msgId, p);
    });
  }

  /** Ends the session: no more reconnects; pending sends reject. */
  close(): void {
    this.userClosed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    if (this.pacer) clearTimeout(this.pacer);
    this.pacer = null;
    this.backlog = [];
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= OPEN) ws.close(1000, "client closed");
    for (const p of this.outbox.values()) p.reject(new ChatClientError("closed", "client closed"));
    this.outbox.clear();
    for (const list of this.queries.values())
      for (const q of list) {
        clearTimeout(q.timer);
        q.reject(new ChatClientError("closed", "client closed"));
      }
    this.queries.clear();
    this.setState({ state: "closed", code: 1000 });
  }

  private setState(change: StateChange): void {
    this.current = change.state;
    this.emit("state", change);
  }

  private async open(): Promise<void> {
    this.setState({ state: "connecting" });
    let token: string;
    try {
      token = typeof this.opts.token === "function" ? await this.opts.token() : this.opts.token;
    } catch (err) {
      this.emit("error", { code: "token_provider", message: String(err) });
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
      this.resetPacer(DEFAULT_RATE, DEFAULT_BURST);
      this.bucket.take(Date.now());
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
      if (!this.userClosed) this.scheduleReconnect(ev.code);
    };
  }

  private scheduleReconnect(code: number, delayMs?: number): void {
    for (const r of this.rooms.values()) r.joining = false;
    const entry = closeCodeByNumber(code);
    const policy = entry?.reconnect ?? "backoff";
    const refreshable = typeof this.opts.token === "function";
    if (policy === "never" && code !== CLOSE_CODES.normal.code) {
      this.emit("error", { code: entry?.name ?? "closed", message: `closed by server (${code})` });
      this.close();
      return;
    }
    if (policy === "token" && !refreshable) {
      this.emit("error", {
        code: entry?.name ?? "unauthorized",
        message: "token refused; give a token function",
      });
      this.close();
      return;
    }
    // A draining gateway already spread its clients over its window: reconnect at once (small jitter).
    const wait =
      delayMs ??
      (code === CLOSE_CODES.draining.code
        ? Math.floor(this.random() * this.backoff.initialMs)
        : backoffDelayMs(this.attempt++, this.backoff, this.random));
    this.setState({ state: "reconnecting", code, retryInMs: wait });
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.userClosed) this.open();
    }, wait);
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case "welcome":
        this.welcomeInfo = f;
        // Stay under the server's per-connection rate: a burst of re-joins and outbox resends after a
        // reconnect must not earn rate_limited errors (or a 4008 close).
        this.resetPacer(f.limits.messages_per_second * 0.9, Math.max(1, f.limits.message_burst - 2));
        this.heartbeatMs = f.heartbeat_ms;
        this.attempt = 0;
        this.setState({ state: "open" });
        this.emit("welcome", f);
        for (const [room, r] of this.rooms) this.sendJoin(room, r);
        for (const [id, p] of this.outbox) this.sendPending(id, p);
        return;
      case "message":
        this.onMessage(f);
        return;
      case "joined":
        this.onJoined(f);
        return;
      case "ack": {
        const p = this.outbox.get(f.id);
        if (!p) return;
        this.outbox.delete(f.id);
        p.resolve(f);
        return;
      }
      case "error":
        this.onError(f);
        return;
      case "presence":
        this.answer(`presence ${f.room}`, f);
        return;
      case "reads":
        this.answer(`reads ${f.room}`, f);
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
    const r = this.rooms.get(m.room);
    if (!r) return;
    if (m.seq <= r.lastSeq) return; // duplicate (history/live overlap, resend)
    if (r.everJoined && m.prev > r.lastSeq) {
      // A hole: something between lastSeq and prev was lost (e.g. a dropped queue). Resume.
      if (!r.joining) this.sendJoin(m.room, r);
      return;
    }
    r.lastSeq = m.seq;
    this.emit("message", m);
  }

  private onJoined(j: JoinedFrame): void {
    const r = this.rooms.get(j.room);
    if (!r) return;
    r.joining = false;
    for (const m of j.messages) {
      if (m.seq <= r.lastSeq) continue;
      r.lastSeq = m.seq;
      this.emit("message", m);
    }
    if (j.last_seq > r.lastSeq) r.lastSeq = j.last_seq;
    r.everJoined = true;
    this.emit("joined", j);
    if (!j.complete) this.sendJoin(j.room, r);
  }

  private onError(e: ErrorFrame): void {
    this.emit("error", e.id === undefined ? { code: e.code, message: e.message } : e);
    if (e.id === undefined) return;
    const p = this.outbox.get(e.id);
    if (p) {
      if (isRetryableError(e.code)) {
        // Resent by the tick once the hint passed.
        p.sentAt = Date.now() - this.ackTimeoutMs + (e.retry_after_ms ?? 1000);
      } else {
        this.outbox.delete(e.id);
        p.reject(new ChatClientError("rejected", `${e.code}: ${e.message}`));
      }
      return;
    }
    const r = this.rooms.get(e.id);
    if (r?.joining) {
      r.joining = false;
      if (isRetryableError(e.code)) {
        setTimeout(() => {
          if (this.rooms.get(e.id as string) === r && this.current === "open")
            this.sendJoin(e.id as string, r);
        }, e.retry_after_ms ?? 1000);
      } else {
        this.rooms.delete(e.id);
      }
    }
  }

  private sendJoin(room: string, r: RoomState): void {
    r.joining = true;
    const frame: { type: "join"; room: string; since?: number; presence?: boolean } = { type: "join", room };
    if (r.everJoined) frame.since = r.lastSeq;
    if (r.presence) frame.presence = true;
    this.write(frame);
  }

  private sendPending(id: string, p: Pending): void {
    p.sentAt = Date.now();
    this.write({ type: "send", room: p.room, id, body: p.body }, p);
  }

  private resetPacer(ratePerSecond: number, burst: number): void {
    this.bucket = new TokenBucket(ratePerSecond, burst, Date.now());
    for (const b of this.backlog) if (b.pending) b.pending.queued = false;
    this.backlog = [];
  }

  /** Writes now when the pacer has a token, else queues behind earlier frames. */
  private write(frame: object, pending?: Pending): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return;
    const text = JSON.stringify(frame);
    if (this.backlog.length === 0 && this.bucket.take(Date.now())) {
      ws.send(text);
      return;
    }
    if (pending) pending.queued = true;
    this.backlog.push({ text, pending });
    this.schedulePacer();
  }

  private schedulePacer(): void {
    if (this.pacer !== null) return;
    const waitMs = Math.max(1, this.bucket.waitMs(Date.now()));
    this.pacer = setTimeout(() => {
      this.pacer = null;
      const ws = this.ws;
      if (!ws || ws.readyState !== OPEN) return;
      const now = Date.now();
      while (this.backlog.length > 0 && this.bucket.take(now)) {
        const b = this.backlog.shift() as { text: string; pending: Pending | undefined };
        if (b.pending) {
          b.pending.queued = false;
          b.pending.sentAt = Date.now();
        }
        ws.send(b.text);
      }
      if (this.backlog.length > 0) this.schedulePacer();
    }, waitMs);
  }

  /** One timer per client: heartbeat pings, dead-connection detection, ack timeouts. */
  private tick(): void {
    if (this.current !== "open" || !this.ws) return;
    const now = Date.now();
    if (now - this.lastHeard > 2 * this.heartbeatMs) {
      const ws = this.ws;
      this.ws = null;
      ws.close(4010, "no traffic from server");
      this.scheduleReconnect(CLOSE_CODES.heartbeatTimeout.code);
      return;
    }
    if (now - this.lastHeard > this.heartbeatMs / 2) this.write({ type: "ping", ts: now });
    for (const [id, p] of this.outbox) {
      if (!p.queued && now - p.sentAt >= this.ackTimeoutMs) this.sendPending(id, p);
    }
  }
}
