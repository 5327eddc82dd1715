import type { Counter } from "prom-client";
import type {
  ConnectionCommand,
  InterestDelta,
  Reply,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { Logger } from "../../../platform/logger.ts";
import type { GatewayEndpoint } from "../discovery/discovery.ts";
import type { CommandDispatch, EventSink, GatewayFleet, GatewayRef, GatewayView } from "../gateway-fleet.ts";
import { commandEntry } from "./command-entry.ts";
import { type GatewayFleetOptions, type ResolvedFleetOptions, resolveFleetOptions } from "./fleet-options.ts";
import { encodeDelivery, encodeReply } from "./frame-codec.ts";
import { type ConnectionHost, GatewayConnection } from "./gateway-connection.ts";
import { createGatewayConnector, type GatewayConnector } from "./gateway-connector.ts";
import { PrincipalMemo } from "./principal-memo.ts";
import { createPushMetrics, type DropReason, type PushMetrics, type QueueReading } from "./push-metrics.ts";

/** Per-gateway numbers, for benchmarks, tests and debugging. */
export interface GatewayQueueStats {
  readonly endpointId: string;
  readonly gatewayId: string | undefined;
  readonly epoch: string | undefined;
  readonly state: string;
  /** The gateway said it drains: no new clients, deliveries to existing ones continue. */
  readonly draining: boolean;
  readonly messages: number;
  readonly bytes: number;
  readonly rooms: number;
}

export interface RunningGatewayFleet extends GatewayFleet {
  /** Starts discovery and opens a stream to every gateway it reports. */
  start(): Promise<void>;
  /**
   * Stops discovery, lets open streams flush their queues for up to
   * stopDrainMs, then closes every stream. What is still queued is dropped and
   * counted (gateway_removed).
   */
  stop(): Promise<void>;
  /** Per-gateway queue numbers (not for hot paths). */
  stats(): GatewayQueueStats[];
  /**
   * True when every gateway discovered so far has had a first attempt settle:
   * its stream is up, or the attempt failed (a broken gateway must not hold
   * logic back). Logic is ready only once this held after start.
   */
  settled(): boolean;
}

/**
 * Logic's end of the push stream: one GatewayConnection per discovered
 * gateway, an interest table room -> gateways, and the GatewayFleet calls the
 * handlers make. Nothing here awaits: deliverToRoom encodes once and appends
 * to each interested gateway's bounded queue.
 */
export function createGatewayFleet(options: GatewayFleetOptions): RunningGatewayFleet {
  const opts = resolveFleetOptions(options);
  let fleet: Fleet | undefined;
  const metrics = createPushMetrics(options.registry, () => fleet?.queueReadings() ?? []);
  metrics.queueLimitBytes.set(opts.queue.maxBytes);
  fleet = new Fleet(opts, options, metrics);
  return fleet;
}

class Fleet implements RunningGatewayFleet, ConnectionHost {
  readonly opts: ResolvedFleetOptions;
  readonly connector: GatewayConnector;
  readonly metrics: PushMetrics;
  readonly sink: EventSink;
  readonly principals = new PrincipalMemo();
  readonly #discovery: GatewayFleetOptions["discovery"];
  readonly #log: Logger;
  /** By discovery endpoint id. */
  readonly #conns = new Map<string, GatewayConnection>();
  /** By the gateway id of the hello, for replies. */
  readonly #byGatewayId = new Map<string, GatewayConnection>();
  readonly #interest = new Map<string, Set<GatewayConnection>>();
  readonly #dropQueueFull: Counter.Internal;
  #connected = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #onChange = (eps: readonly GatewayEndpoint[]) => this.#apply(eps);
  readonly #onError = (err: Error) => this.#log.error({ err: err.message }, "gateway discovery failed");

  constructor(opts: ResolvedFleetOptions, options: GatewayFleetOptions, metrics: PushMetrics) {
    this.opts = opts;
    this.metrics = metrics;
    this.sink = options.sink;
    this.#discovery = options.discovery;
    this.#log = options.log.child({ subsystem: "push" });
    this.connector = createGatewayConnector(opts.tls, options.registry, this.#log);
    this.#dropQueueFull = metrics.drops.labels({ reason: "queue_full" });
  }

  async start(): Promise<void> {
    this.#discovery.on("change", this.#onChange);
    this.#discovery.on("error", this.#onError);
    const tickMs = Math.max(10, Math.min(250, Math.floor(this.opts.pingIntervalMs / 4)));
    this.#timer = setInterval(() => {
      const now = performance.now();
      for (const c of this.#conns.values()) c.tick(now);
    }, tickMs);
    this.#timer.unref();
    await this.#discovery.start();
    this.#apply(this.#discovery.endpoints());
  }

  async stop(): Promise<void> {
    this.#discovery.off("change", this.#onChange);
    await this.#discovery.stop();
    this.#discovery.off("error", this.#onError);
    // Let open streams write what is queued (replies above all) and have it
    // acknowledged, for at most stopDrainMs; the gateways resend unanswered
    // events elsewhere, so this shortens recovery rather than preventing loss.
    const deadline = performance.now() + this.opts.stopDrainMs;
    const busy = () => [...this.#conns.values()].some((c) => c.state === "ready" && c.queue.messages > 0);
    while (busy() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    if (this.#timer !== undefined) clearInterval(this.#timer);
    for (const c of [...this.#conns.values()]) this.#remove(c, "gateway_removed");
    this.connector.close();
  }

  /**
   * `payload` is referenced until written, not copied: it must not be
   * modified afterwards. `acceptedAtMs` fills Delivery.accepted_at_ms (0: unset).
   */
  deliverToRoom(room: string, seq: bigint, payload: Uint8Array, acceptedAtMs = 0): void {
    const targets = this.#interest.get(room);
    this.metrics.fanoutGateways.observe(targets?.size ?? 0);
    if (targets === undefined) return;
    const entry = encodeDelivery(room, seq, payload, acceptedAtMs);
    for (const c of targets) {
      if (!c.queue.offerDelivery(entry)) this.#dropQueueFull.inc();
    }
  }

  command(key: string, command: ConnectionCommand, payload: Uint8Array): CommandDispatch {
    const targets =
      key === ""
        ? [...this.#conns.values()].filter((c) => c.state === "ready")
        : [...(this.#interest.get(key) ?? [])];
    let queued = 0;
    let waiting = 0;
    let acked = 0;
    let resolve: (n: number) => void = () => {};
    const applied = new Promise<number>((r) => {
      resolve = r;
    });
    const entry = commandEntry(key, command, payload, (ok) => {
      if (ok) acked++;
      if (--waiting === 0) resolve(acked);
    });
    for (const c of targets) {
      if (c.queue.offerDelivery(entry)) {
        queued++;
        waiting++;
      } else this.#dropQueueFull.inc();
    }
    if (queued === 0) resolve(0);
    return { gateways: queued, applied };
  }

  gatewaysWith(key: string): number {
    return this.#interest.get(key)?.size ?? 0;
  }

  gatewayViews(): GatewayView[] {
    return [...this.#conns.values()].map((c) => ({
      id: c.gatewayId ?? c.endpoint.id,
      epoch: c.epoch ?? "",
      version: c.version,
      state: c.state,
      draining: c.draining,
      connections: c.status?.connections ?? 0,
      rooms: c.status?.rooms ?? 0,
      logic: c.status?.logic ?? [],
    }));
  }

  reply(to: GatewayRef, reply: Reply): void {
    const c = this.#byGatewayId.get(to.id);
    if (c === undefined || c.epoch !== to.epoch) {
      this.#drop(c === undefined ? "unknown_gateway" : "stale_epoch");
      return;
    }
    // The gateway accepts a reply only from the epoch whose event it answers.
    reply.gatewayEpoch = to.epoch;
    if (!c.queue.offerReply(encodeReply(reply))) {
      this.#drop("reply_queue_full");
      // The gateway resends unanswered events only when their stream ends; a
      // dropped reply would otherwise leave its event (a join, an auth refresh)
      // waiting forever. Ending the stream hands it to another logic process.
      c.reset("overflow", false);
    }
  }

  connectedGateways(): number {
    return this.#connected;
  }

  settled(): boolean {
    for (const c of this.#conns.values()) if (!c.attempted) return false;
    return true;
  }

  stats(): GatewayQueueStats[] {
    return [...this.#conns.values()].map((c) => ({
      endpointId: c.endpoint.id,
      gatewayId: c.gatewayId,
      epoch: c.epoch,
      state: c.state,
      draining: c.draining,
      messages: c.queue.messages,
      bytes: c.queue.bytes,
      rooms: c.rooms.size,
    }));
  }

  /** Read at scrape time, so the hot path never touches a gauge. */
  queueReadings(): QueueReading[] {
    return [...this.#conns.values()].map((c) => ({
      gateway: label(c),
      messages: c.queue.messages,
      bytes: c.queue.bytes,
    }));
  }

  // ---- ConnectionHost -------------------------------------------------------

  onReady(conn: GatewayConnection, previousEpoch: string | undefined): void {
    if (previousEpoch !== undefined && previousEpoch !== conn.epoch) {
      // A restarted gateway: its connections are gone, so is everything queued for them.
      const n = conn.queue.clear();
      if (n > 0) this.metrics.drops.inc({ reason: "epoch_changed" }, n);
      this.#setRooms(conn, []);
      this.#log.info({ gateway: conn.gatewayId, epoch: conn.epoch }, "gateway restarted (new epoch)");
    }
    const id = conn.gatewayId as string;
    const other = this.#byGatewayId.get(id);
    if (other !== undefined && other !== conn) {
      this.#log.warn({ gateway: id }, "two endpoints answer with the same gateway id; using the newest");
    }
    this.#byGatewayId.set(id, conn);
    this.#connected++;
    this.metrics.connectedStreams.set(this.#connected);
  }

  onDown(_conn: GatewayConnection): void {
    this.#connected--;
    this.metrics.connectedStreams.set(this.#connected);
  }

  onSnapshot(conn: GatewayConnection, rooms: readonly string[]): void {
    if (this.#interestTooLarge(conn, rooms.length)) return;
    this.#setRooms(conn, rooms);
  }

  onDelta(conn: GatewayConnection, delta: InterestDelta): void {
    for (const room of delta.removed) this.#removeRoom(conn, room);
    if (this.#interestTooLarge(conn, conn.rooms.size + delta.added.length)) return;
    for (const room of delta.added) this.#addRoom(conn, room);
  }

  /** A gateway declaring more interest than any gateway holds is reset, not believed. */
  #interestTooLarge(conn: GatewayConnection, size: number): boolean {
    if (size <= this.opts.maxInterestPerGateway) return false;
    this.#log.warn(
      { gateway: conn.gatewayId, keys: size, max: this.opts.maxInterestPerGateway },
      "gateway declared more interest than allowed: resetting its stream",
    );
    conn.reset("protocol", false);
    return true;
  }

  // ---- internals ------------------------------------------------------------

  #apply(endpoints: readonly GatewayEndpoint[]): void {
    const wanted = new Map(endpoints.map((e) => [e.id, e]));
    for (const c of [...this.#conns.values()]) {
      const e = wanted.get(c.endpoint.id);
      if (e === undefined || e.address !== c.endpoint.address) this.#remove(c, "gateway_removed");
    }
    for (const e of endpoints) {
      if (this.#conns.has(e.id)) continue;
      const c = new GatewayConnection(e, this, this.#log);
      this.#conns.set(e.id, c);
      this.#log.info({ gateway: e.id, address: e.address }, "gateway discovered");
      c.start();
    }
  }

  #remove(c: GatewayConnection, reason: DropReason): void {
    this.#conns.delete(c.endpoint.id);
    c.close();
    const n = c.queue.clear() + c.queue.resetStream().unacked;
    if (n > 0) this.metrics.drops.inc({ reason }, n);
    this.#setRooms(c, []);
    if (c.gatewayId !== undefined && this.#byGatewayId.get(c.gatewayId) === c) {
      this.#byGatewayId.delete(c.gatewayId);
      // Another endpoint still streaming to the same gateway takes over its replies.
      for (const o of this.#conns.values())
        if (o.gatewayId === c.gatewayId && o.state === "ready") this.#byGatewayId.set(c.gatewayId, o);
    }
    this.metrics.queueDepth.remove({ gateway: label(c) });
    this.metrics.queueBytes.remove({ gateway: label(c) });
    this.#log.info({ gateway: c.endpoint.id }, "gateway removed");
  }

  #setRooms(conn: GatewayConnection, rooms: readonly string[]): void {
    const next = new Set(rooms);
    for (const room of [...conn.rooms]) if (!next.has(room)) this.#removeRoom(conn, room);
    for (const room of next) this.#addRoom(conn, room);
  }

  #addRoom(conn: GatewayConnection, room: string): void {
    if (conn.rooms.has(room)) return;
    conn.rooms.add(room);
    let set = this.#interest.get(room);
    if (set === undefined) {
      set = new Set();
      this.#interest.set(room, set);
    }
    set.add(conn);
  }

  #removeRoom(conn: GatewayConnection, room: string): void {
    if (!conn.rooms.delete(room)) return;
    const set = this.#interest.get(room);
    if (set === undefined) return;
    set.delete(conn);
    if (set.size === 0) this.#interest.delete(room);
  }

  #drop(reason: DropReason): void {
    this.metrics.drops.inc({ reason });
  }
}

/** The gateway label: the discovery endpoint id (the pod name with EndpointSlices), stable for its life. */
function label(c: GatewayConnection): string {
  return c.endpoint.id;
}
