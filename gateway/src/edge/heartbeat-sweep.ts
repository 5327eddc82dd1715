import { CLOSE_CODES, type CloseCode } from "../../../protocol/close-codes.ts";
import type { Connection } from "./connection.ts";
import type { EdgeLimits } from "./edge-limits.ts";

export interface SweepContext {
  readonly limits: EdgeLimits;
  readonly conns: ReadonlyMap<number, Connection>;
  /** Connections waiting for logic's auth answer. */
  readonly pending: ReadonlySet<Connection>;
  /** Connections we sent a close frame to. */
  readonly closing: ReadonlySet<Connection>;
  closeConn(conn: Connection, code: CloseCode, reason: string): void;
}

/**
 * One interval for every socket (no timer per connection): auth timeouts and
 * stuck close handshakes on every tick; pings, dead-peer detection and token
 * expiry once per heartbeat interval for each socket. A socket that sent
 * nothing and answered no ping for a whole interval is terminated.
 *
 * The heartbeat work is spread over the interval: each tick visits the next
 * slice of connections (enough that every one is visited once per interval),
 * so 17,000 sockets are pinged ~500 per tick instead of all in one turn that
 * would delay every delivery behind it. A round never completes faster than
 * the interval: with few sockets the slices finish early and the next round
 * waits, so no socket is pinged (or judged) more often than once an interval.
 */
export function startHeartbeatSweep(ctx: SweepContext): NodeJS.Timeout {
  const { limits, conns, pending, closing } = ctx;
  // Fine enough for the shortest deadline it enforces, never more than once a second.
  const tickMs = Math.max(
    20,
    Math.min(1000, limits.heartbeatMs / 4, limits.authTimeoutMs / 4, limits.closeGraceMs / 4),
  );
  // A live iterator over the connection map: entries added later are visited
  // in this round, entries deleted are skipped.
  let cursor = conns.values();
  let roundStart = Date.now();
  let roundDone = false;
  const timer = setInterval(() => {
    const now = Date.now();
    for (const c of pending) {
      if (now - c.openedAt >= limits.authTimeoutMs) ctx.closeConn(c, CLOSE_CODES.authTimeout, "auth timeout");
    }
    for (const c of closing) {
      if (now - c.closingSince >= limits.closeGraceMs) c.ws.terminate();
    }
    if (roundDone) {
      if (now - roundStart < limits.heartbeatMs) return;
      roundDone = false;
      roundStart = now;
      cursor = conns.values();
    }
    let budget = Math.ceil((conns.size * tickMs) / limits.heartbeatMs);
    while (budget-- > 0) {
      const next = cursor.next();
      if (next.done) {
        roundDone = true;
        break;
      }
      visit(next.value, now);
    }
  }, tickMs);
  timer.unref();
  return timer;

  function visit(c: Connection, now: number): void {
    if (c.state === "closing" || c.state === "closed") return;
    // Slices grow with the connection count: after a burst of new connections a
    // socket can come round sooner than an interval after its ping. Wait for it.
    if (now - c.pingedAt < limits.heartbeatMs * 0.9) return;
    if (!c.alive) {
      c.closeCode = CLOSE_CODES.heartbeatTimeout.code;
      c.ws.terminate();
      return;
    }
    if (c.expiresAtMs > 0 && c.expiresAtMs <= now) {
      ctx.closeConn(c, CLOSE_CODES.tokenExpired, "token expired");
      return;
    }
    c.alive = false;
    c.pingedAt = now;
    c.ws.ping();
  }
}
