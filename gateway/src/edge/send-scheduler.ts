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
 */
export class SendScheduler {
  private dirty: Connection[] = [];
  private scheduled = false;
  private readonly limits: EdgeLimits;
  private readonly onSlow: (conn: Connection) => void;
  private readonly onFlushed: (frames: number, bytes: number) => void;

  constructor(
    limits: EdgeLimits,
    onSlow: (conn: Connection) => void,
    onFlushed: (frames: number, bytes: number) => void,
  ) {
    this.limits = limits;
    this.onSlow = onSlow;
    this.onFlushed = onFlushed;
  }

  /** Queues one framed message. Returns false when the socket was closed as a slow consumer. */
  enqueue(conn: Connection, frame: Buffer): boolean {
    conn.queue.push(frame);
    conn.queuedBytes += frame.length;
    if (conn.queuedBytes + conn.socket.writableLength > this.limits.sendQueueBytes) {
      conn.queue = [];
      conn.queuedBytes = 0;
      this.onSlow(conn);
      return false;
    }
    this.markDirty(conn);
    return true;
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
    const n = conn.queue.length;
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
      if (conn.queue.length === 0 || conn.state === "closed") continue;
      if (conn.socket.writableLength >= this.limits.writeHighWaterBytes) {
        this.waitForDrain(conn);
        continue;
      }
      frames += conn.queue.length;
      bytes += conn.queuedBytes;
      this.write(conn);
    }
    if (frames > 0) this.onFlushed(frames, bytes);
  };

  private write(conn: Connection): void {
    const q = conn.queue;
    const socket = conn.socket;
    conn.queue = [];
    conn.queuedBytes = 0;
    if (socket.destroyed) return;
    if (q.length === 1) {
      socket.write(q[0] as Buffer);
      return;
    }
    socket.cork();
    for (const f of q) socket.write(f);
    socket.uncork();
  }

  private waitForDrain(conn: Connection): void {
    if (conn.waitingDrain) return;
    conn.waitingDrain = true;
    conn.socket.once("drain", () => {
      conn.waitingDrain = false;
      if (conn.queue.length > 0) this.markDirty(conn);
    });
  }
}
