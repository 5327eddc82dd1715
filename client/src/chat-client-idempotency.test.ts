import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import type { DevStack } from "../../dev/dev-stack.ts";
import { signDevToken } from "../../dev/dev-token.ts";
import { startLoopbackStack } from "../../dev/loopback-stack.ts";
import { type NatsServer, needsReal, startNats } from "../../testenv/harness/index.ts";
import { ChatClient, ChatClientError, type MessageFrame, type WebSocketLike } from "./index.ts";

// The idempotency guarantee end to end, the same for both stores: a send
// retried with the same id within the server's idempotency window is stored
// once, and the SDK gives a send up (rejects it as `expired`) before that
// window can end, so a client that lost an ack and comes back later cannot
// store a message twice. The window is shortened to WINDOW_MS (JetStream's
// duplicate window; SQLite keeps ids as long as their messages), the
// client's retry horizon to HORIZON_MS. The acks are lost, the connection cut
// and kept down by a lossy network between the SDK and the gateway.
const WINDOW_MS = 4000;
const HORIZON_MS = 1500;

/** The network between one client and a gateway: it can lose acks, cut the connection and stay down. */
class LossyNetwork {
  dropAcks = false;
  down = false;
  readonly url: string;
  readonly #sockets = new Set<WebSocket>();

  constructor(url: string) {
    this.url = url;
  }

  /** A WebSocket constructor for the SDK that goes through this network. */
  get Socket(): new (
    url: string,
    protocols: string | string[],
  ) => WebSocketLike {
    const net = this;
    return class implements WebSocketLike {
      onopen: ((ev: never) => void) | null = null;
      onmessage: ((ev: { data: unknown }) => void) | null = null;
      onclose: ((ev: { code: number; reason: string }) => void) | null = null;
      onerror: ((ev: never) => void) | null = null;
      readonly #ws: WebSocket;
      constructor(_url: string, protocols: string | string[]) {
        // Down: nothing listens on port 9, so the connection fails like an unreachable host.
        this.#ws = new WebSocket(net.down ? "ws://127.0.0.1:9/" : net.url, protocols);
        net.#sockets.add(this.#ws);
        this.#ws.on("open", () => this.onopen?.(undefined as never));
        this.#ws.on("message", (data) => {
          const text = String(data);
          if (net.dropAcks && (JSON.parse(text) as { type?: string }).type === "ack") return;
          this.onmessage?.({ data: text });
        });
        this.#ws.on("close", (code, reason) => {
          net.#sockets.delete(this.#ws);
          this.onclose?.({ code, reason: String(reason) });
        });
        this.#ws.on("error", () => this.onerror?.(undefined as never));
      }
      get readyState(): number {
        return this.#ws.readyState;
      }
      send(data: string): void {
        this.#ws.send(data);
      }
      close(code?: number, reason?: string): void {
        this.#ws.close(code, reason);
      }
    };
  }

  /** Drops every connection without a close handshake (a cable pulled). */
  cut(): void {
    for (const ws of this.#sockets) ws.terminate();
  }
}

function idempotencySuite(store: "sqlite" | "nats"): void {
  describe(`idempotency window through the whole stack (${store})`, {
    timeout: 120_000,
    skip: store === "nats" && needsReal("nats-server (make testenv)"),
  }, () => {
    let stack: DevStack;
    let dir: string;
    let secret: string;
    let nats: NatsServer | undefined;
    const clients: ChatClient[] = [];

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "cc-idempotency-"));
      if (store === "nats") nats = await startNats({ name: "idempotency-stack" });
      stack = await startLoopbackStack(
        {
          dataDir: dir,
          store,
          natsUrl: nats?.url,
          logicArgs: store === "nats" ? [`--nats-duplicate-window=${WINDOW_MS}ms`] : [],
        },
        () => {},
      );
      secret = readFileSync(join(dir, "dev-jwt-secret"), "utf8").trim();
    });
    after(async () => {
      for (const c of clients) c.close();
      await stack?.stop();
      await nats?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** A client through a lossy network to gateway 0, and an observer on gateway 1, both in `room`. */
    async function pair(room: string, retryHorizonMs: number) {
      const net = new LossyNetwork(stack.gatewayUrls[0] as string);
      const sender = new ChatClient({
        url: "ws://lossy/",
        token: await signDevToken(secret, "sender"),
        WebSocket: net.Socket,
        backoff: { initialMs: 100, maxMs: 300 },
        ackTimeoutMs: 30_000,
        retryHorizonMs,
      });
      const observer = new ChatClient({
        url: stack.gatewayUrls[1] as string,
        token: await signDevToken(secret, "observer"),
        WebSocket: WebSocket as never,
      });
      clients.push(sender, observer);
      const seen: MessageFrame[] = [];
      observer.on("message", (m) => seen.push(m));
      let joined = 0;
      for (const c of [sender, observer]) {
        c.on("joined", () => joined++);
        c.join(room);
        c.connect();
      }
      await until("both joined", () => joined >= 2);
      return { net, sender, seen };
    }

    /** Sends `id` with its ack lost, and resolves once the observer got it (it is stored). */
    async function sendAckLost(p: Awaited<ReturnType<typeof pair>>, room: string, id: string) {
      p.net.dropAcks = true;
      const sent = Date.now();
      const result = p.sender.send(room, { text: id }, id).catch((e: unknown) => e);
      await until(`${id} stored`, () => p.seen.some((m) => m.id === id));
      return { sent, result };
    }

    it("acks a resend within the window with the original seq and stores it once", async () => {
      const room = `idem.${store}.within`;
      const p = await pair(room, HORIZON_MS);
      const { result } = await sendAckLost(p, room, "w-1");
      const stored = p.seen.find((m) => m.id === "w-1") as MessageFrame;
      p.net.dropAcks = false;
      p.net.cut(); // the SDK reconnects at once and resends w-1
      const ack = await result;
      assert.ok(!(ack instanceof Error), String(ack));
      assert.equal((ack as { seq: number }).seq, stored.seq, "the resend is acked with the original seq");
      await p.sender.send(room, { text: "after" }, "w-2");
      await until("w-2 seen", () => p.seen.some((m) => m.id === "w-2"));
      assert.deepEqual(
        p.seen.map((m) => m.id),
        ["w-1", "w-2"],
      );
    });

    it("gives a send up before the window ends while offline, so coming back later stores nothing twice", async () => {
      const room = `idem.${store}.offline`;
      const p = await pair(room, HORIZON_MS);
      const { sent, result } = await sendAckLost(p, room, "o-1");
      p.net.down = true;
      p.net.cut();
      const err = await result;
      const gaveUpAfter = Date.now() - sent;
      assert.ok(err instanceof ChatClientError && err.code === "expired", String(err));
      assert.ok(
        gaveUpAfter < WINDOW_MS,
        `gave up ${gaveUpAfter} ms after sending, within the ${WINDOW_MS} ms window`,
      );
      // Stay away until the window is over, then come back.
      await new Promise((r) => setTimeout(r, WINDOW_MS + 1000 - (Date.now() - sent)));
      p.net.down = false;
      p.net.dropAcks = false;
      await until("back", () => p.sender.state === "open", 15_000);
      await p.sender.send(room, { text: "after" }, "o-2");
      await until("o-2 seen", () => p.seen.some((m) => m.id === "o-2"));
      assert.deepEqual(
        p.seen.map((m) => m.id),
        ["o-1", "o-2"],
        "o-1 stored once",
      );
    });

    it("a client retrying past the window: the process that stored it answers from its recent sends", async () => {
      // The hazard the horizon exists for, with a horizon longer than the window:
      // JetStream no longer knows the id, but the logic process that stored it
      // (the room's process) still does, so neither store keeps two copies.
      const room = `idem.${store}.late`;
      const p = await pair(room, 60_000);
      const { sent, result } = await sendAckLost(p, room, "l-1");
      p.net.down = true;
      p.net.cut();
      await new Promise((r) => setTimeout(r, WINDOW_MS + 1000 - (Date.now() - sent)));
      p.net.down = false;
      p.net.dropAcks = false;
      const ack = await result;
      assert.ok(!(ack instanceof Error), String(ack));
      await until("l-1 seen", () => p.seen.some((m) => m.id === "l-1"));
      await p.sender.send(room, { text: "after" }, "l-2");
      await until("l-2 seen", () => p.seen.some((m) => m.id === "l-2"));
      assert.equal(p.seen.filter((m) => m.id === "l-1").length, 1);
      const l2 = p.seen.find((m) => m.id === "l-2");
      assert.equal(l2?.seq, 2, "the late resend took no seq");
    });
  });
}

async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

idempotencySuite("sqlite");
idempotencySuite("nats");
