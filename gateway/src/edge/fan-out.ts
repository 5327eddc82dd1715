import type { Delivery } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { USER_INTEREST_PREFIX } from "../../../protocol/presence-frames.ts";
import type { Connection, Membership } from "./connection.ts";
import type { EdgeLimits } from "./edge-limits.ts";
import type { GatewayMetrics } from "./gateway-metrics.ts";
import type { RoomIndex } from "./room-index.ts";
import type { SendScheduler } from "./send-scheduler.ts";
import type { UserIndex } from "./user-index.ts";
import { frameText } from "./ws-frame.ts";

/** `#`: interest keys that are not rooms start with it (room names cannot). */
const HASH = 0x23;

/** What fan-out reads: the room and user indexes and the send queues. */
export interface FanOutContext {
  readonly index: RoomIndex;
  readonly users: UserIndex;
  readonly sched: SendScheduler;
  readonly limits: EdgeLimits;
  readonly metrics: GatewayMetrics;
}

/**
 * Returns EdgeSink.deliver for one edge: each payload is framed once and the
 * same bytes are queued for every recipient.
 */
export function createFanOut(
  ctx: FanOutContext,
  applyCommand: (d: Delivery) => void,
): (deliveries: readonly Delivery[]) => void {
  const { index, users, sched, limits, metrics } = ctx;

  /** To every local connection of a user (interest key `#user:<id>`): no join floors, seq 0 frames. */
  function deliverToUser(user: string, deliveries: readonly Delivery[], from: number, to: number): void {
    for (let k = from; k < to; k++) {
      const frame = frameText((deliveries[k] as Delivery).payload);
      const n = users.forEach(user, (c) => {
        if (c.state === "open") sched.enqueue(c, frame);
      });
      if (n === 0) metrics.drops.inc({ reason: "no_local_members" });
    }
  }

  /**
   * Per-member path: join floor, held deliveries while a join is in flight.
   * A member's floor follows what it was sent, so a message delivered again
   * (a send resent to another logic process during a roll, delivered by both)
   * reaches each socket once.
   */
  function deliverOne(members: Map<Connection, Membership>, seq: number, frame: Buffer): void {
    let heldDrops = 0;
    for (const [c, m] of members) {
      if (seq !== 0 && seq <= m.floor) continue;
      if (m.held !== null) {
        if (m.held.length < limits.joinBufferFrames) m.held.push({ seq, frame });
        else heldDrops++;
        continue;
      }
      if (c.state === "open") sched.enqueue(c, frame);
      if (seq !== 0) m.floor = seq;
    }
    if (heldDrops > 0) metrics.drops.inc({ reason: "join_buffer_full" }, heldDrops);
  }

  /**
   * Consecutive deliveries to the same room are framed once each and joined
   * into one buffer, so a member past the join boundary costs one enqueue for
   * the whole run (the frames stay separate WebSocket messages).
   */
  function deliver(deliveries: readonly Delivery[]): void {
    const n = deliveries.length;
    const nowMs = performance.timeOrigin + performance.now();
    for (let k = 0; k < n; k++) {
      const at = (deliveries[k] as Delivery).acceptedAtMs;
      // Clocks of two hosts: a small negative difference is skew, not time travel.
      if (at > 0) metrics.deliveryLatency.observe(Math.max(0, nowMs - at) / 1000);
    }
    let i = 0;
    while (i < n) {
      const d = deliveries[i] as Delivery;
      if (d.command !== undefined) {
        applyCommand(d);
        i++;
        continue;
      }
      let j = i + 1;
      while (
        j < n &&
        (deliveries[j] as Delivery).room === d.room &&
        (deliveries[j] as Delivery).command === undefined
      )
        j++;
      if (d.room.charCodeAt(0) === HASH && d.room.startsWith(USER_INTEREST_PREFIX)) {
        deliverToUser(d.room.slice(USER_INTEREST_PREFIX.length), deliveries, i, j);
        i = j;
        continue;
      }
      const members = index.members(d.room);
      if (members === undefined) {
        metrics.drops.inc({ reason: "no_local_members" }, j - i);
        i = j;
        continue;
      }
      if (j - i === 1) {
        deliverOne(members, Number(d.seq), frameText(d.payload));
        i = j;
        continue;
      }
      const frames: Buffer[] = [];
      const seqs: number[] = [];
      let minSeq = Number.MAX_SAFE_INTEGER;
      let maxSeq = 0;
      let bytes = 0;
      for (let k = i; k < j; k++) {
        const dk = deliveries[k] as Delivery;
        const f = frameText(dk.payload);
        const s = Number(dk.seq);
        frames.push(f);
        seqs.push(s);
        bytes += f.length;
        if (s !== 0 && s < minSeq) minSeq = s;
        if (s > maxSeq) maxSeq = s;
      }
      const run = Buffer.concat(frames, bytes);
      const count = j - i;
      let heldDrops = 0;
      for (const [c, m] of members) {
        if (m.held === null && m.floor < minSeq) {
          if (c.state === "open") sched.enqueue(c, run, count);
          if (maxSeq > m.floor) m.floor = maxSeq;
          continue;
        }
        // Rare: a member at its join boundary or sent some of these already. Decide frame by frame.
        for (let k = 0; k < count; k++) {
          const s = seqs[k] as number;
          if (s !== 0 && s <= m.floor) continue;
          if (m.held !== null) {
            if (m.held.length < limits.joinBufferFrames) m.held.push({ seq: s, frame: frames[k] as Buffer });
            else heldDrops++;
            continue;
          }
          if (c.state === "open") sched.enqueue(c, frames[k] as Buffer);
          if (s !== 0) m.floor = s;
        }
      }
      if (heldDrops > 0) metrics.drops.inc({ reason: "join_buffer_full" }, heldDrops);
      i = j;
    }
  }

  return deliver;
}
