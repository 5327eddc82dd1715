import { monitorEventLoopDelay } from "node:perf_hooks";
import WebSocket from "ws";
import { ChatClient, type MessageFrame } from "../client/src/index.ts";
import { SendTimeline } from "./send-timeline.ts";

/**
 * Steady chat load for the chaos scenarios: N SDK clients (each from its own
 * 127.0.0.x source address) spread over M rooms (client i is a member of room
 * i mod M), sends at a fixed total rate, round-robin over the rooms and within
 * a room over its members. It records every ack and every delivered message,
 * so that `verify()` can check that each acknowledged message reached each
 * member of its room exactly once, in order, and when each send was due and
 * acknowledged (`timeline`).
 */
export interface LoadOptions {
  /** Gateway URLs; a client starts on `urls[i % n]` and moves to the next one on every reconnect. */
  readonly urls: readonly string[];
  readonly clients: number;
  readonly rooms: number;
  /** Room names are `${roomPrefix}.${k}`: a fresh prefix per scenario keeps histories apart. */
  readonly roomPrefix: string;
  /** Sends per second over all clients. */
  readonly ratePerSecond: number;
  readonly token: (user: string) => Promise<string>;
  /**
   * Source address of client `i`'s sockets. Default: 127.0.0.(2 + i % 200), so
   * many clients on loopback do not run out of ephemeral ports; `() => undefined`
   * lets the kernel choose (clients reaching a cluster IP).
   */
  readonly localAddress?: (client: number) => string | undefined;
}

export interface LoadReport {
  readonly clients: number;
  readonly rooms: number;
  readonly ratePerSecond: number;
  readonly sent: number;
  readonly acked: number;
  /** Sends that settled with an error (the SDK retries retryable ones; these are final). */
  readonly rejected: number;
  /** Client-visible transport errors seen (retryable `unavailable` and the like). */
  readonly retryableErrors: number;
  /** Every `error` event code the clients saw, with counts. */
  readonly errorCodes: Readonly<Record<string, number>>;
  /** (acked message, member of its room) pairs where the member never got the message. */
  readonly lost: number;
  /** Messages a client got twice. */
  readonly duplicates: number;
  /** Clients whose room's seq chain was not 1, 2, 3, ... */
  readonly orderViolations: number;
  /** Times a client left the `open` state. */
  readonly disconnects: number;
  /**
   * How late the driver's own event loop ran while sending (p99 and max, ms):
   * when it is high the driver, not the system, was short of CPU, and
   * latencies measured meanwhile are inflated.
   */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  readonly problems: readonly string[];
}

interface Member {
  readonly client: ChatClient;
  readonly room: string;
  readonly got: MessageFrame[];
  joined: boolean;
}

const SETTLE_TIMEOUT_MS = 45_000;

export class LoadDriver {
  readonly #opts: LoadOptions;
  readonly #members: Member[] = [];
  /** Members of each room, by room index. */
  readonly #byRoom: Member[][] = [];
  readonly timeline = new SendTimeline();
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 10 });
  /** room -> client message id -> acked seq */
  readonly #acks = new Map<string, Map<string, number>>();
  readonly #pending = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #sent = 0;
  #rejected = 0;
  #retryable = 0;
  #disconnects = 0;
  readonly #errorCodes: Record<string, number> = {};
  readonly rejections: string[] = [];

  constructor(opts: LoadOptions) {
    this.#opts = opts;
  }

  get rooms(): string[] {
    return Array.from({ length: this.#opts.rooms }, (_, k) => `${this.#opts.roomPrefix}.${k}`);
  }

  get disconnects(): number {
    return this.#disconnects;
  }

  get acked(): number {
    let n = 0;
    for (const m of this.#acks.values()) n += m.size;
    return n;
  }

  /** Connects every client, joins every room, and resolves when all are open. */
  async connect(timeoutMs = 30_000): Promise<void> {
    const { urls } = this.#opts;
    for (let i = 0; i < this.#opts.clients; i++) {
      let attempt = 0;
      const localAddress = (this.#opts.localAddress ?? loopbackSource)(i);
      const Routed = class extends WebSocket {
        constructor(_url: string, protocols: string | string[]) {
          const url = urls[(i + attempt++) % urls.length] as string;
          super(url, protocols, { localAddress, perMessageDeflate: false });
        }
      };
      const user = `load-${i}`;
      const client = new ChatClient({
        url: "ws://routed/",
        token: () => this.#opts.token(user),
        WebSocket: Routed,
        backoff: { initialMs: 100, maxMs: 1000 },
        ackTimeoutMs: 5000,
      });
      const room = this.rooms[i % this.#opts.rooms] as string;
      const member: Member = { client, room, got: [], joined: false };
      let wasOpen = false;
      client.on("state", (s) => {
        if (s.state === "open") wasOpen = true;
        else if (wasOpen && s.state === "reconnecting") {
          this.#disconnects++;
          wasOpen = false;
        }
      });
      client.on("joined", (j) => {
        if (j.room === room) member.joined = true;
      });
      client.on("message", (m) => {
        if (m.room === room) member.got.push(m);
      });
      client.on("error", (e) => {
        this.#errorCodes[e.code] = (this.#errorCodes[e.code] ?? 0) + 1;
        if (e.code === "unavailable" || e.code === "internal" || e.code === "rate_limited") this.#retryable++;
        if (e.id !== undefined && e.id !== room) this.timeline.failed(Date.now());
      });
      client.join(room);
      client.connect();
      this.#members.push(member);
      const k = i % this.#opts.rooms;
      this.#byRoom[k] ??= [];
      this.#byRoom[k].push(member);
    }
    await until(
      "every load client open",
      () => this.#members.every((m) => m.client.state === "open"),
      timeoutMs,
    );
    await until("every load client joined", () => this.#members.every((m) => m.joined), timeoutMs);
  }

  /** Starts sending at the configured rate. */
  start(): void {
    this.#loopDelay.enable();
    const period = 1000 / this.#opts.ratePerSecond;
    let next = Date.now();
    const tick = () => {
      const now = Date.now();
      while (next <= now) {
        this.#sendOne(next);
        next += period;
      }
      this.#timer = setTimeout(tick, Math.max(1, next - Date.now()));
    };
    tick();
  }

  /** Sends the next message, which was due at `dueAt`. */
  #sendOne(dueAt: number): void {
    const n = this.#sent++;
    const k = n % this.#opts.rooms;
    const members = this.#byRoom[k] ?? [];
    const member = members[Math.floor(n / this.#opts.rooms) % members.length];
    const room = this.rooms[k];
    if (member === undefined || room === undefined) return;
    const id = `${this.#opts.roomPrefix}-${n}`;
    const p = member.client.send(room, { n }, id).then(
      (ack) => {
        this.timeline.acked(dueAt, Date.now());
        let acks = this.#acks.get(ack.room);
        if (acks === undefined) {
          acks = new Map();
          this.#acks.set(ack.room, acks);
        }
        acks.set(ack.id, ack.seq);
      },
      (err: unknown) => {
        this.#rejected++;
        this.rejections.push(`${id}: ${String(err)}`);
      },
    );
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** Stops sending, waits until every send settled and every client has every acked message. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#loopDelay.disable();
    await until("every send settled", () => this.#pending.size === 0, SETTLE_TIMEOUT_MS).catch(
      () => undefined,
    );
    const heads = new Map<string, number>();
    for (const [room, acks] of this.#acks) heads.set(room, Math.max(0, ...acks.values()));
    await until(
      "every client caught up",
      () => this.#members.every((m) => m.client.lastSeq(m.room) >= (heads.get(m.room) ?? 0)),
      SETTLE_TIMEOUT_MS,
    ).catch(() => undefined);
  }

  /** Checks exactly-once, in-order delivery of every acked message to every client. */
  verify(): LoadReport {
    const problems: string[] = [];
    let lost = 0;
    let duplicates = 0;
    let orderViolations = 0;
    for (const [i, m] of this.#members.entries()) {
      const room = m.room;
      const list = m.got;
      const acks = this.#acks.get(room) ?? new Map<string, number>();
      const ids = new Map<string, number>();
      for (const msg of list) {
        if (ids.has(msg.id)) duplicates++;
        ids.set(msg.id, msg.seq);
      }
      const contiguous = list.every((msg, k) => msg.seq === k + 1 && msg.prev === k);
      if (!contiguous) {
        orderViolations++;
        if (problems.length < 20)
          problems.push(
            `client ${i} ${room}: seqs ${list
              .map((x) => x.seq)
              .join(",")
              .slice(0, 200)}`,
          );
      }
      for (const [id, seq] of acks) {
        const got = ids.get(id);
        if (got === undefined) {
          lost++;
          if (problems.length < 20)
            problems.push(`client ${i} ${room}: acked ${id} (seq ${seq}) never arrived`);
        } else if (got !== seq) {
          orderViolations++;
          if (problems.length < 20)
            problems.push(`client ${i} ${room}: ${id} acked as ${seq}, delivered as ${got}`);
        }
      }
    }
    return {
      clients: this.#opts.clients,
      rooms: this.#opts.rooms,
      ratePerSecond: this.#opts.ratePerSecond,
      sent: this.#sent,
      acked: this.acked,
      rejected: this.#rejected,
      retryableErrors: this.#retryable,
      errorCodes: { ...this.#errorCodes },
      lost,
      duplicates,
      orderViolations,
      disconnects: this.#disconnects,
      loopDelayP99Ms: Math.round(this.#loopDelay.percentile(99) / 1e6),
      loopDelayMaxMs: Math.round(this.#loopDelay.max / 1e6),
      problems: [...problems, ...this.rejections.slice(0, 5)],
    };
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#loopDelay.disable();
    for (const m of this.#members) m.client.close();
  }
}

function loopbackSource(client: number): string {
  return `127.0.0.${2 + (client % 200)}`;
}

export async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
