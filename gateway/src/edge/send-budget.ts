import type { Connection } from "./connection.ts";
import type { SendScheduler } from "./send-scheduler.ts";

/**
 * After shedding, the sockets left hold at most this fraction of the budget:
 * the next scan of every socket needs a tenth of the budget of new backlog,
 * so a process at its budget does not rescan on every flush.
 */
export const SHED_TARGET_FRACTION = 0.9;

/**
 * The process-wide send budget is exceeded: makes the scheduler's count
 * exact (every live socket's buffer as it is now, not as of our last write
 * to it) and, if it is still above the target, closes the live sockets
 * holding the most bytes (the readers furthest behind) one by one, largest
 * first, until the rest hold at most SHED_TARGET_FRACTION of the budget.
 * A socket that keeps up holds nothing after a flush, so it is never chosen
 * while a lagging one holds bytes. Returns how many sockets were closed.
 */
export function shedSlowest(
  conns: Iterable<Connection>,
  sched: SendScheduler,
  budgetBytes: number,
  close: (conn: Connection) => void,
): number {
  const live: Connection[] = [];
  for (const c of conns) {
    if (c.state !== "open" && c.state !== "authenticating") continue;
    sched.resync(c);
    if (c.queuedBytes + c.socketBuffered > 0) live.push(c);
  }
  const target = budgetBytes * SHED_TARGET_FRACTION;
  if (sched.budgeted <= target) return 0;
  live.sort((a, b) => b.queuedBytes + b.socketBuffered - (a.queuedBytes + a.socketBuffered));
  let shed = 0;
  for (const c of live) {
    if (sched.budgeted <= target) break;
    // Its queued frames will never be written: they no longer count, and the close frame goes next.
    sched.discard(c);
    close(c);
    shed++;
  }
  return shed;
}
