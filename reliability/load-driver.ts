import WebSocket from "ws";
import { ChatClient, type MessageFrame } from "../client/src/index.ts";

/**
 * Steady chat load for the chaos scenarios: N SDK clients (each from its own
 * 127.0.0.x source address), every client a member of all M rooms (or of one), sends at a
 * fixed total rate spread round-robin over the clients. It records every ack
 * and every delivered message, so that `verify()` can check that each
 * acknowledged message reached each client exactly once, in order.
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
  /**
   * "all" (default): every client joins every room, so each message reaches
   * every client. "one": client i joins room i % rooms only and sends there,
   * which keeps the same clients and send rate with a fan-out of clients/rooms.
   */
  readonly membership?: "all" | "one";
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
  /** (acked message, client) pairs where the client never got the message. */
  readonly lost: number;
  /** Messages a client got twice. */
  readonly duplicates: number;
  /** Rooms of clients whose seq chain was not 1, 2, 3, ... */
  readonly orderViolations: number;
  /** Times a client left the `open` state. */
  readonly disconnects: number;
  readonly problems: readonly string[];
}

interface Member {
  readonly client: ChatClient;
  /** The rooms this client joins and sends to. */
  readonly rooms: readonly string[];
  readonly got: Map<string, MessageFrame[]>;
  readonly joined: Set<string>;
}

const SETTLE_TIMEOUT_MS = 45_000;

export class LoadDriver {
  readonly #opts: LoadOptions;
  readonly #members: Member[] = [];
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
      const got = new Map<string, MessageFrame[]>();
      const rooms =
        this.#opts.membership === "one" ? [this.rooms[i % this.#opts.rooms] as string] : this.rooms;
      for (const room of rooms) got.set(room, []);
      let wasOpen = false;
      client.on("state", (s) => {
        if (s.state === "open") wasOpen = true;
        else if (wasOpen && s.state === "reconnecting") {
          this.#disconnects++;
          wasOpen = false;
        }
      });
      const joined = new Set<string>();
      client.on("joined", (j) => joined.add(j.room));
      client.on("message", (m) => got.get(m.room)?.push(m));
      client.on("error", (e) => {
        this.#errorCodes[e.code] = (this.#errorCodes[e.code] ?? 0) + 1;
        if (e.code === "unavailable" || e.code === "internal" || e.code === "rate_limited") this.#retryable++;
      });
      for (const room of rooms) client.join(room);
      client.connect();
      this.#members.push({ client, rooms, got, joined });
    }
    await until(
      "every load client open",
      () => this.#members.every((m) => m.client.state === "open"),
      timeoutMs,
    );
    await until(
      "every load client joined",
      () => this.#members.every((m) => m.joined.size === m.rooms.length),
      timeoutMs,
    );
  }

  /** Starts sending at the configured rate. */
  start(): void {
    const period = 1000 / this.#opts.ratePerSecond;
    let next = Date.now();
    const tick = () => {
      const now = Date.now();
      while (next <= now) {
        this.#sendOne();
        next += period;
      }
      this.#timer = setTimeout(tick, Math.max(1, next - Date.now()));
    };
    tick();
  }

  #sendOne(): void {
    const n = this.#sent++;
    const member = this.#members[n % this.#members.length];
    const room = this.#opts.membership === "one" ? member?.rooms[0] : this.rooms[n % this.#opts.rooms];
    if (member === undefined || room === undefined) return;
    const id = `${this.#opts.roomPrefix}-${n}`;
    const p = member.client.send(room, { n }, id).then(
      (ack) => {
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
    await until("every send settled", () => this.#pending.size === 0, SETTLE_TIMEOUT_MS).catch(
      () => undefined,
    );
    const heads = new Map<string, number>();
    for (const [room, acks] of this.#acks) heads.set(room, Math.max(0, ...acks.values()));
    await until(
      "every client caught up",
      () =>
        this.#members.every((m) => m.rooms.every((room) => m.client.lastSeq(room) >= (heads.get(room) ?? 0))),
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
      for (const room of m.rooms) {
        const list = m.got.get(room) ?? [];
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
      problems: [...problems, ...this.rejections.slice(0, 5)],
    };
  }

  close(): void {
    clearTimeout(this.#timer);
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
