import { TokenBucket } from "../../protocol/token-bucket.ts";
import type { Pending } from "./outbox.ts";
import { OPEN, type WebSocketLike } from "./websocket-like.ts";

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
 */
export class Pacer {
  readonly #socket: () => WebSocketLike | null;
  #bucket: TokenBucket;
  #backlog: Queued[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;

  /** `socket` is read when frames are due: the current connection's socket, or null. */
  constructor(socket: () => WebSocketLike | null, ratePerSecond: number, burst: number) {
    this.#socket = socket;
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
  write(frame: object, pending?: Pending): void {
    const ws = this.#socket();
    if (!ws || ws.readyState !== OPEN) return;
    const text = JSON.stringify(frame);
    if (this.#backlog.length === 0 && this.#bucket.take(Date.now())) {
      ws.send(text);
      return;
    }
    if (pending) pending.queued = true;
    this.#backlog.push({ text, pending });
    this.#schedule();
  }

  /** Stops for good: no timer, nothing queued. */
  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#backlog = [];
  }

  #dropBacklog(): void {
    for (const b of this.#backlog) if (b.pending) b.pending.queued = false;
    this.#backlog = [];
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
          b.pending.sentAt = now;
        }
        ws.send(b.text);
      }
      if (this.#backlog.length > 0) this.#schedule();
    }, waitMs);
  }
}
