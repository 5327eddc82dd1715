import { create } from "@bufbuild/protobuf";
import {
  ClientEventSchema,
  PresenceChangeSchema,
  PresenceLeaseSchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { Logger } from "../../../platform/logger.ts";
import type { LogicLink } from "../logic-link.ts";
import type { GatewayMetrics } from "./gateway-metrics.ts";
import { PresenceTracker } from "./presence-tracker.ts";

export interface PresenceReporterOptions {
  readonly link: LogicLink;
  readonly graceMs: number;
  /** Renewal interval; logic expires the epoch's presence after 3 of them. */
  readonly leaseMs: number;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
}

/**
 * This gateway epoch's side of presence (docs/presence.md): the tracker's
 * reports and the epoch's lease, both sent as client events with connection
 * id 0 and no principal (they belong to the epoch, not to a connection).
 *
 * One timer ticks the tracker's departures and renews the lease while a
 * logic stream is up. A lease that went unrenewed for over two intervals plus
 * a tick (no logic stream, this process stopped) may have reached its TTL of
 * three at logic, which then expired every entry it covered: it is renewed
 * and every present user is reported again (a report of an entry logic still
 * has changes nothing).
 */
export class PresenceReporter {
  readonly tracker: PresenceTracker;
  readonly #o: PresenceReporterOptions;
  readonly #tickMs: number;
  readonly #timer: NodeJS.Timeout;
  #lastLeaseAt = 0;
  #released = false;

  constructor(o: PresenceReporterOptions) {
    this.#o = o;
    this.tracker = new PresenceTracker(o.graceMs, (room, userId, online) => {
      const event = create(ClientEventSchema, {
        connectionId: 0,
        kind: { case: "presenceChange", value: create(PresenceChangeSchema, { room, userId, online }) },
      });
      if (o.link.send(event, room)) return true;
      o.metrics.logicRefusals.inc();
      return false;
    });
    this.#tickMs = Math.min(500, o.leaseMs);
    this.#timer = setInterval(() => this.#tick(Date.now()), this.#tickMs);
    this.#timer.unref();
  }

  /** The gateway is going away: pending departures go now and the lease is released. */
  release(): void {
    this.tracker.flush();
    this.#released = true;
    this.#sendLease(true);
  }

  stop(): void {
    this.#released = true;
    clearInterval(this.#timer);
  }

  #tick(now: number): void {
    this.tracker.tick(now);
    if (this.#released || now - this.#lastLeaseAt < this.#o.leaseMs || this.#o.link.connectedStreams() === 0)
      return;
    const gapMs = now - this.#lastLeaseAt;
    if (!this.#sendLease(false)) return; // refused while no logic stream is up: the next tick renews
    const lapsed = this.#lastLeaseAt > 0 && gapMs > this.#o.leaseMs * 2 + this.#tickMs;
    this.#lastLeaseAt = now;
    if (lapsed) {
      const users = this.tracker.reannounce();
      this.#o.log.info({ users, gapMs }, "presence lease may have lapsed; reporting present users again");
    }
  }

  #sendLease(release: boolean): boolean {
    const event = create(ClientEventSchema, {
      connectionId: 0,
      kind: {
        case: "presenceLease",
        value: create(PresenceLeaseSchema, { ttlMs: this.#o.leaseMs * 3, release }),
      },
    });
    return this.#o.link.send(event, "presence-lease");
  }
}
