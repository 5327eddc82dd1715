import type { Connection } from "./connection.ts";
import type { EdgeLimits } from "./edge-limits.ts";

/**
 * Per-socket bounded send queues, flushed once per event-loop turn.
 *
 * Frames for a socket are queued during a tick and written in one corked
 * burst (one writev) at setImmediate, each still its own WebSocket message.
 * A socket whose user-space buffer is above writeHighWaterBytes is skipped
 * until its 'drain'; one whose queued bytes exceed sendQueueBytes is handed to
 * onSlow (closed with slow_consumer) and its queue discarded, so one reader
 * that does not read costs bounded memory and never delays the others.
 *
 * The process has a budget too (sendBudgetBytes): `budgeted` counts the bytes
 * queued for every live socket plus each one's user-space socket buffer as of
 * our last write to it (the kernel may have taken some since: it is an upper
 * bound, made exact by resync()). It is checked after each flush, when what
 * is left is what sockets did not take (a burst queued within one turn for
 * many sockets shares its frames and is written at once); above the budget,
 * onOverBudget sheds the sockets furthest behind (send-budget.ts). A
 * connection leaves the count when it starts closing: its memory is then
 * bounded by its own limit and freed within the close grace.
 */
/** Above this many queued bytes a socket's frames are written corked instead of copied into one buffer. */
const CONCAT_MAX_BYTES = 16 * 1024;

export class SendScheduler {
  private dirty: Connection[] = [];
  private scheduled = false;
  private readonly limits: EdgeLimits;
  private readonly onSlow: (conn: Connection) => void;
  private readonly onFlushed: (frames: number, bytes: number) => void;
  private readonly onOverBudget: () => void;
  /** Bytes held for live (not closing) sockets: queued, plus socket buffers as of our last writes. */
  private held = 0;

  constructor(
    limits: EdgeLimits,
    onSlow: (conn: Connection) => void,
    onFlushed: (frames: number, bytes: number) => void,
    onOverBudget: () => void,
  ) {
    this.limits = limits;
    this.onSlow = onSlow;
    this.onFlushed = onFlushed;
    this.onOverBudget = onOverBudget;
  }

  /** Bytes counted against sendBudgetBytes now (an upper bound until resync()). */
  get budgeted(): number {
    return this.held;
  }

  /**
   * Queues framed bytes holding `frames` WebSocket messages. Returns false when
   * the socket was closed as a slow consumer instead.
   */
  enqueue(conn: Connection, bytes: Buffer, frames = 1): boolean {
    // After the close frame nothing may follow (RFC 6455), and a connection
    // closed as a slow consumer must not be counted again.
    if (conn.state === "closing" || conn.state === "closed") return false;
    // socketBuffered is the socket's backlog as of our last write to it: it only
    // grows when we write, so the check needs no stream call per frame. A reader
    // with nothing pending is not slow, whatever the size of this one entry.
    const backlog = conn.queuedBytes + conn.socketBuffered;
    conn.queue.push(bytes);
    conn.queuedBytes += bytes.length;
    conn.queuedFrames += frames;
    this.held += bytes.length;
    if (backlog > 0 && backlog + bytes.length > this.limits.sendQueueBytes) {
      this.held -= conn.queuedBytes;
      conn.queue.length = 0;
      conn.queuedBytes = 0;
      conn.queuedFrames = 0;
      this.onSlow(conn);
      return false;
    }
    this.markDirty(conn);
    return true;
  }

  /**
   * The connection stops counting against the budget (it is closing or gone).
   * Call before its state leaves "open"/"authenticating"; a second call does nothing.
   */
  release(conn: Connection): void {
    if (conn.state === "closing" || conn.state === "closed") return;
    this.held -= conn.queuedBytes + conn.socketBuffered;
  }

  /** Replaces a live connection's last-known socket backlog with the socket's current one. */
  resync(conn: Connection): void {
    const now = conn.socket.writableLength;
    this.held += now - conn.socketBuffered;
    conn.socketBuffered = now;
  }

  /** Drops a live connection's queued frames (shed): they will not be written. */
  discard(conn: Connection): void {
    this.held -= conn.queuedBytes;
    conn.queue.length = 0;
    conn.queuedBytes = 0;
    conn.queuedFrames = 0;
  }

  markDirty(conn: Connection): void {
    if (conn.dirty) return;
    conn.dirty = true;
    this.dirty.push(conn);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Writes a connection's queue now (before a close frame, so it follows what was queued). */
  flushConnection(conn: Connection): void {
    if (conn.queue.length === 0) return;
    const n = conn.queuedFrames;
    const bytes = conn.queuedBytes;
    this.write(conn);
    this.onFlushed(n, bytes);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const list = this.dirty;
    this.dirty = [];
    let frames = 0;
    let bytes = 0;
    for (const conn of list) {
      conn.dirty = false;
      if (conn.queue.length === 0 || conn.state === "closing" || conn.state === "closed") continue;
      if (conn.socket.writableLength >= this.limits.writeHighWaterBytes) {
        this.waitForDrain(conn);
        continue;
      }
      frames += conn.queuedFrames;
      bytes += conn.queuedBytes;
      this.write(conn);
    }
    if (frames > 0) this.onFlushed(frames, bytes);
    if (this.held > this.limits.sendBudgetBytes) this.onOverBudget();
  };

  private write(conn: Connection): void {
    const q = conn.queue;
    const socket = conn.socket;
    const n = conn.queuedBytes;
    const live = conn.state !== "closing" && conn.state !== "closed";
    if (live) this.held -= n;
    conn.queuedBytes = 0;
    conn.queuedFrames = 0;
    if (!socket.destroyed) {
      if (q.length === 1) {
        socket.write(q[0] as Buffer);
      } else if (n <= CONCAT_MAX_BYTES) {
        // One write per socket per tick: one copy of small frames is cheaper than
        // a stream write (and a writev entry) per frame.
        socket.write(Buffer.concat(q, n));
      } else {
        // Large frames are shared by every member of a room: copying them per
        // socket would cost room size x bytes; corked writes go out as one writev.
        socket.cork();
        for (const b of q) socket.write(b);
        socket.uncork();
      }
      if (live) this.held += socket.writableLength - conn.socketBuffered;
      conn.socketBuffered = socket.writableLength;
    }
    // The array is reused: nothing above keeps a reference to it.
    q.length = 0;
  }

  private waitForDrain(conn: Connection): void {
    if (conn.waitingDrain) return;
    conn.waitingDrain = true;
    conn.socket.once("drain", () => {
      conn.waitingDrain = false;
      if (conn.state !== "closing" && conn.state !== "closed") this.held -= conn.socketBuffered;
      conn.socketBuffered = 0;
      if (conn.queue.length > 0) this.markDirty(conn);
    });
  }
}
