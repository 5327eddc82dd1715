import { EdgeError } from "./edge-error.ts";

/**
 * Every bound the edge enforces, in one validated object. Defaults are sized for
 * a 2-core pod with ~20k file descriptors; config.ts exposes each as a flag.
 */
export interface EdgeLimits {
  /** Largest client frame in bytes; larger frames close the socket with 1009 (ws maxPayload). */
  readonly maxFrameBytes: number;
  /** Sustained client frames per second per connection (token bucket refill rate). */
  readonly messagesPerSecond: number;
  /** Token bucket size: frames a connection may send in a burst. */
  readonly messageBurst: number;
  /** Rejected (over-rate) frames within rateStrikeWindowMs that close the socket with rate_limited. */
  readonly rateStrikes: number;
  readonly rateStrikeWindowMs: number;
  /** Rooms one connection may be a member of at once. */
  readonly maxRoomsPerConnection: number;
  /** Open WebSockets per process (authenticated or not); more are refused with 503. */
  readonly maxConnections: number;
  /** Connections waiting for logic's auth answer; more are refused with 503. */
  readonly maxPendingAuth: number;
  /** A connection without an auth answer after this long is closed with auth_timeout. */
  readonly authTimeoutMs: number;
  /** New WebSocket upgrades per second (token bucket refill rate) and burst. */
  readonly admissionPerSecond: number;
  readonly admissionBurst: number;
  /**
   * The client port's accept queue (listen backlog; the kernel caps it at
   * net.core.somaxconn). Node's default of 511 overflowed in connect storms
   * below the admission rate: the kernel then drops SYNs and clients wait for
   * their retransmit timers (1 s, 3 s...) instead of getting a 503 with a hint.
   */
  readonly listenBacklog: number;
  /** Bytes queued for one socket (ours + the kernel-bound socket buffer) before it is closed as a slow consumer. */
  readonly sendQueueBytes: number;
  /**
   * Bytes queued for all sockets together (same measure, summed over live
   * sockets, checked after each flush). Above it, the sockets furthest behind
   * are closed as slow consumers until the rest hold 90 % of it: the per-socket
   * bound times 18,000 sockets would be 18 GiB.
   */
  readonly sendBudgetBytes: number;
  /** Stop handing bytes to a socket while its user-space write buffer holds this much; resume on 'drain'. */
  readonly writeHighWaterBytes: number;
  /** Live deliveries buffered per membership while its join is in flight; beyond it they are dropped (the client's gap check resumes). */
  readonly joinBufferFrames: number;
  /** Interval of the shared ping sweep; a socket that misses one full interval is terminated. */
  readonly heartbeatMs: number;
  /** A socket we closed that has not finished the close handshake after this long is destroyed. */
  readonly closeGraceMs: number;
  /** Sustained `signal` frames per second per connection, and burst (within the frame rate above). */
  readonly signalsPerSecond: number;
  readonly signalBurst: number;
  /** A user's departure from a room is reported this long after its last connection left, unless it rejoins. */
  readonly presenceGraceMs: number;
  /** Interval of presence lease renewals; logic expires a silent epoch's presence after 3 of them. */
  readonly presenceLeaseMs: number;
  /** Compress client->server frames when the client asks (server frames are pre-framed and never compressed). */
  readonly perMessageDeflate: boolean;
  /**
   * Accept a token in the upgrade URL's query (`?token=`). Off, such a
   * connection is closed with 4001: URLs are written to ingress, proxy and
   * access logs, so a token there outlives the session it was for.
   */
  readonly allowTokenInUrl: boolean;
}

export const DEFAULT_EDGE_LIMITS: EdgeLimits = Object.freeze({
  maxFrameBytes: 64 * 1024,
  messagesPerSecond: 20,
  messageBurst: 40,
  rateStrikes: 20,
  rateStrikeWindowMs: 10_000,
  maxRoomsPerConnection: 100,
  maxConnections: 18_000,
  maxPendingAuth: 2_000,
  authTimeoutMs: 10_000,
  admissionPerSecond: 1_000,
  admissionBurst: 2_000,
  listenBacklog: 4_096,
  sendQueueBytes: 1024 * 1024,
  sendBudgetBytes: 256 * 1024 * 1024,
  writeHighWaterBytes: 64 * 1024,
  joinBufferFrames: 1_000,
  heartbeatMs: 25_000,
  closeGraceMs: 3_000,
  signalsPerSecond: 5,
  signalBurst: 10,
  presenceGraceMs: 5_000,
  presenceLeaseMs: 2_000,
  perMessageDeflate: false,
  allowTokenInUrl: false,
});

/** Defaults overlaid with `partial`; never writes into the caller's object. */
export function resolveEdgeLimits(partial: Partial<EdgeLimits> = {}): EdgeLimits {
  const out = { ...DEFAULT_EDGE_LIMITS, ...partial };
  for (const [k, v] of Object.entries(out)) {
    if (typeof v === "number" && !(Number.isFinite(v) && v > 0))
      throw new EdgeError("invalid_limits", `${k} must be a positive number, got ${v}`);
  }
  if (out.messageBurst < 1 || out.admissionBurst < 1)
    throw new EdgeError("invalid_limits", "bursts must be >= 1");
  return Object.freeze(out);
}
