import { TokenBucket } from "../../protocol/token-bucket.ts";
import type { Pending } from "./outbox.ts";
import { OPEN, type WebSocketLike } from "./websocket-like.ts";

/** What became of a frame: on the wire, waiting in the backlog, dropped (backlog full), or not sent (no open socket). */
export type PacedWrite = "written" | "queued" | "dropped" | "offline";

interface Queued {
  readonly text: string;
  readonly pending: Pending | undefined;
}

/**
 * A token bucket in front of the socket, sized below the server's
 * per-connection rate (welcome.limits), so a burst of re-joins and outbox
 * resends after a reconnect earns no rate_limited errors (or a 4008 close).
 * A frame goes out at once while the bucket has a token and nothing waits
 * before it; otherwise it waits in the backlog, in order, for one timer.
 *
 * Sends in the backlog are bounded by the outbox; every other frame (joins,
 * leaves, signals, read markers, queries, pings) by `limit`: beyond it the
 * frame is dropped and counted, and onOverflow fires once, re-armed when the
 * backlog has emptied, so an app writing faster than the server allows learns
 * of it without an event per frame.
 */
export class Pacer {
  readonly #socket: () => WebSocketLike | null;
  readonly #limit: number;
  readonly #onOverflow: () => void;
  #bucket: TokenBucket;
  #backlog: Queued[] = [];
  /** Frames in the backlog that are not sends. */
  #others = 0;
  #overflowing = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** Frames other than sends dropped because the backlog was full. */
  dropped = 0;

  /** `socket` is read when frames are due: the current connection's socket, or null. */
  constructor(
    socket: () => WebSocketLike | null,
    ratePerSecond: number,
    burst: number,
    limit: number,
    onOverflow: () => void,
  ) {
    this.#socket = socket;
    this.#limit = limit;
    this.#onOverflow = onOverflow;
    this.#bucket = new TokenBucket(ratePerSecond, burst, Date.now());
  }

  /**
   * A new connection or new limits: a full bucket and an empty backlog (the
   * caller re-sends what matters: joins and unacknowledged sends).
   */
  reset(ratePerSecond: number, burst: number): void {
    this.#bucket = new TokenBucket(ratePerSecond, burst, Date.now());
    this.#dropBacklog();
  }

  /** Takes a token for a frame written directly (the auth frame). */
  spend(): void {
    this.#bucket.take(Date.now());
  }

  /** Writes now when the pacer has a token, else queues behind earlier frames. */
  write(frame: object, pending?: Pending): PacedWrite {
    const ws = this.#socket();
    if (!ws || ws.readyState !== OPEN) return "offline";
    if (this.#backlog.length === 0 && this.#bucket.take(Date.now())) {
      ws.send(JSON.stringify(frame));
      return "written";
    }
    if (pending) {
      pending.queued = true;
    } else if (this.#others >= this.#limit) {
      this.dropped++;
      if (!this.#overflowing) {
        this.#overflowing = true;
        this.#onOverflow();
      }
      return "dropped";
    } else {
      this.#others++;
    }
    this.#backlog.push({ text: JSON.stringify(frame), pending });
    this.#schedule();
    return "queued";
  }

  /** Stops for good: no timer, nothing queued. */
  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#backlog = [];
    this.#others = 0;
  }

  #dropBacklog(): void {
    for (const b of this.#backlog) if (b.pending) b.pending.queued = false;
    this.#backlog = [];
    this.#others = 0;
    this.#overflowing = false;
  }

  #schedule(): void {
    if (this.#timer !== null) return;
    const waitMs = Math.max(1, this.#bucket.waitMs(Date.now()));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      const ws = this.#socket();
      if (!ws || ws.readyState !== OPEN) return;
      const now = Date.now();
      while (this.#backlog.length > 0 && this.#bucket.take(now)) {
        const b = this.#backlog.shift() as Queued;
        if (b.pending) {
          b.pending.queued = false;
          // Past its retry horizon while it waited: never on the wire again (the outbox rejects it).
          if (b.pending.expiresAt > 0 && now >= b.pending.expiresAt) continue;
          b.pending.sentAt = now;
        } else {
          this.#others--;
        }
        ws.send(b.text);
      }
      if (this.#backlog.length > 0) this.#schedule();
      else this.#overflowing = false;
    }, waitMs);
  }
}
