import type { Duplex } from "node:stream";
import { WebSocket } from "ws";
import type { Principal } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { TokenBucket } from "../../../protocol/token-bucket.ts";

/**
 * One client WebSocket and everything the edge keeps for it. Plain fields, no
 * timers and no per-connection closures: idle connections must stay small
 * (target <= 8 KB RSS each), and the shared sweep does all time-based work.
 */
export type ConnectionState =
  /** Upgraded; waiting for an auth frame or for logic's answer to it. */
  | "authenticating"
  /** Authenticated: frames flow both ways. */
  | "open"
  /** We sent a close frame and wait for the peer's (the sweep destroys it after closeGraceMs). */
  | "closing"
  /** Gone; every reference is being dropped. */
  | "closed";

/** A live delivery that arrived while the membership's join was in flight. */
export interface HeldDelivery {
  readonly seq: number;
  readonly frame: Buffer;
}

/** A connection's membership in one room. */
export interface Membership {
  /**
   * Live deliveries with 0 < seq <= floor are dropped: the join's history page
   * or an earlier delivery already had them. Raised by each delivery sent.
   */
  floor: number;
  /** Non-null while a join is in flight: live deliveries wait here, then flush after the joined frame. */
  held: HeldDelivery[] | null;
  /** Logic accepted the join: the user counts in this gateway's presence for the room. */
  present: boolean;
  /** A server Subscribe made it: later joins of the room by this connection skip the read check. */
  granted: boolean;
}

/** The ws WebSocket class the server instantiates, with a back-reference to its Connection. */
export class EdgeSocket extends WebSocket {
  conn: Connection | null = null;
}

export class Connection {
  readonly id: number;
  readonly ws: EdgeSocket;
  readonly socket: Duplex;
  readonly remoteAddress: string;
  readonly openedAt: number;
  state: ConnectionState = "authenticating";
  principal: Principal | undefined = undefined;
  /** principal.expiresAtMs as a number (0 = never), checked by the sweep. */
  expiresAtMs = 0;
  /** An auth event is with logic and unanswered. */
  authInFlight = false;
  /** Saw a pong or a frame since the last sweep. */
  alive = true;
  /** When the sweep last pinged it (ms since epoch): never judged sooner than an interval after. */
  pingedAt = 0;
  /** Framed bytes waiting for the next per-tick flush. */
  queue: Buffer[] = [];
  queuedBytes = 0;
  /** WebSocket messages in `queue` (an entry can hold several). */
  queuedFrames = 0;
  /** socket.writableLength right after our last write (0 after 'drain'). */
  socketBuffered = 0;
  /** In the scheduler's dirty list for this tick. */
  dirty = false;
  /** Waiting for the socket's 'drain' before writing more. */
  waitingDrain = false;
  rooms: Map<string, Membership> | null = null;
  /** Entries of `rooms` that are presence opt-ins (`<room>#presence`), not rooms: they use no room slot. */
  presenceOptIns = 0;
  /** Created at the first signal: most connections never send one. */
  signalRate: TokenBucket | null = null;
  readonly rate: TokenBucket;
  strikes = 0;
  strikeWindowStart = 0;
  /** The close code we chose (0 when the peer closed first). */
  closeCode = 0;
  closingSince = 0;

  constructor(
    id: number,
    ws: EdgeSocket,
    socket: Duplex,
    remoteAddress: string,
    now: number,
    rate: TokenBucket,
  ) {
    this.id = id;
    this.ws = ws;
    this.socket = socket;
    this.remoteAddress = remoteAddress;
    this.openedAt = now;
    this.rate = rate;
  }

  /** Bytes this connection holds for its peer: our queue plus the socket's user-space buffer. */
  pendingBytes(): number {
    return this.queuedBytes + this.socket.writableLength;
  }

  membership(room: string): Membership | undefined {
    return this.rooms?.get(room);
  }
}
