// The epoch race, against real gateway processes: a gateway is SIGKILLed while
// logic holds answers to its connections' auths, the answers are queued in
// logic while the gateway is away, and a new process of the same gateway (a new
// epoch, at the same address) has connections of its own waiting for auth
// when logic's stream reaches it. Connection and event numbering restart with
// the process, so an answer written to the wrong epoch would land on a
// connection that did not ask for it, or give another user's identity to one
// that did. Repeated ROUNDS times; no answer may ever reach a connection of
// the new epoch that is not its own.
//
// Logic is the real push-stream client (createGatewayFleet) in this process,
// so the test decides when auths are answered. The gateway's address is a TCP
// relay standing for the pod address: it forwards to whichever gateway process
// is current, and refuses connections while none is, so logic reaches the new
// process only after its connections are waiting (the order that makes the
// race bite; anything else would only make it rarer).
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Registry } from "prom-client";
import WebSocket from "ws";
import { type ClientEvent, ReplySchema } from "../gen/chatcluster/v1/gateway_stream_pb.js";
import { StaticDiscovery } from "../logic/src/discovery/index.ts";
import type { GatewayRef } from "../logic/src/gateway-fleet.ts";
import { createGatewayFleet } from "../logic/src/link/index.ts";
import { metricValue, waitFor } from "../logic/src/link/testing/fleet-harness.ts";
import { createLogger } from "../platform/logger.ts";
import { SUBPROTOCOL } from "../protocol/client-frames.ts";
import { killAll, startCli } from "./cli-process.ts";
import { recordResult } from "./results.ts";

const ROUNDS = Number(process.env.CHATCLUSTER_EPOCH_RACE_ROUNDS ?? 200);
/** Connections per round whose auth answers are held across the restart. */
const OLD_AUTHS = 3;

interface GatewayProc {
  readonly child: ChildProcess;
  readonly epoch: string;
  readonly clientPort: number;
  readonly internalPort: number;
  readonly opsPort: number;
  readonly exited: Promise<void>;
}

/** Client sockets still open, ended by the test's teardown. */
const clients = new Set<WebSocket>();

/** A real `chatcluster gateway` process on loopback ports it picks; resolves once it has started. */
async function startGateway(): Promise<GatewayProc> {
  const p = await startCli("gateway", [
    "--gateway-id=race-0",
    "--client-listen=127.0.0.1:0",
    "--internal-listen=127.0.0.1:0",
    "--ops-listen=127.0.0.1:0",
    // Loopback only; this suite is about epochs, not the link's TLS (internal-link.test.ts).
    "--insecure-internal",
  ]);
  const l = p.started;
  return {
    child: p.child,
    exited: p.exited,
    epoch: l.epoch as string,
    clientPort: l.clientPort as number,
    internalPort: l.internalPort as number,
    opsPort: l.opsPort as number,
  };
}

/**
 * The gateway's stable address. While a process is behind it, connections are
 * forwarded to that process; while none is, the port is closed and refuses
 * connections, as a dead pod's address does.
 */
class Relay {
  readonly server: Server;
  port = 0;
  #target: number | undefined;
  readonly #sockets = new Set<Socket>();

  constructor() {
    this.server = createServer((down) => {
      const port = this.#target;
      if (port === undefined) {
        down.destroy();
        return;
      }
      const up = tcpConnect({ host: "127.0.0.1", port, noDelay: true });
      down.setNoDelay(true);
      for (const [a, b] of [
        [down, up],
        [up, down],
      ] as const) {
        this.#sockets.add(a);
        a.on("error", () => b.destroy());
        a.on("close", () => {
          this.#sockets.delete(a);
          b.destroy();
        });
        a.pipe(b);
      }
    });
  }

  /** Forwards to the process listening on `port`, opening the address (on the same port as before). */
  async forward(port: number): Promise<void> {
    this.#target = port;
    if (this.server.listening) return;
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.port = (this.server.address() as { port: number }).port;
  }

  /** No process behind the address: open connections are cut, the port refuses new ones. */
  async cut(): Promise<void> {
    this.#target = undefined;
    const closed = new Promise<void>((resolve) => {
      if (this.server.listening) this.server.close(() => resolve());
      else resolve();
    });
    for (const s of this.#sockets) s.destroy();
    await closed;
  }
}

/** A WebSocket client that records every frame it receives. */
async function openClient(port: number): Promise<{ ws: WebSocket; frames: Record<string, unknown>[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, [SUBPROTOCOL], { perMessageDeflate: false });
  clients.add(ws);
  ws.once("close", () => clients.delete(ws));
  const frames: Record<string, unknown>[] = [];
  ws.on("message", (data) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
  ws.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("close", (code) => reject(new Error(`closed ${code} before open`)));
  });
  return { ws, frames };
}

async function gatewayMetric(g: GatewayProc, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${g.opsPort}/metrics`)).text();
  return metricValue(text, name);
}

test(`a gateway restarted while logic holds auth answers for its previous epoch never applies them (${ROUNDS} rounds)`, {
  timeout: 30 * 60_000,
}, async (t) => {
  const started = Date.now();
  const relay = new Relay();
  t.after(() => relay.cut());
  // Whatever happened, no process or socket outlives the test.
  t.after(async () => {
    for (const ws of clients) ws.terminate();
    await killAll();
  });
  let current = await startGateway();
  await relay.forward(current.internalPort);

  // Auths whose token starts with "old-" are held until the test answers them; the rest are answered at once.
  const held: { from: GatewayRef; event: ClientEvent; token: string }[] = [];
  const holder: { fleet?: ReturnType<typeof createGatewayFleet> } = {};
  const registry = new Registry();
  const answer = (from: GatewayRef, event: ClientEvent, userId: string) =>
    holder.fleet?.reply(
      from,
      create(ReplySchema, {
        eventId: event.eventId,
        connectionId: event.connectionId,
        kind: { case: "auth", value: { ok: true, principal: { userId, read: [">"], write: [">"] } } },
      }),
    );
  const fleet = createGatewayFleet({
    discovery: new StaticDiscovery([`race-0=127.0.0.1:${relay.port}`]),
    logicId: "logic-race",
    epoch: `logic-race-${process.pid}`,
    registry,
    log: createLogger("logic", "warn"),
    reconnectBaseMs: 10,
    reconnectMaxMs: 50,
    sink: {
      onEvents(from, events) {
        for (const event of events) {
          if (event.kind.case === "auth") {
            const token = event.kind.value.token;
            if (token.startsWith("old-")) held.push({ from, event, token });
            else answer(from, event, token);
          } else {
            holder.fleet?.reply(
              from,
              create(ReplySchema, {
                eventId: event.eventId,
                connectionId: event.connectionId,
                kind: { case: "done", value: {} },
              }),
            );
          }
        }
      },
    },
  });
  holder.fleet = fleet;
  t.after(() => fleet.stop());
  await fleet.start();

  let next = startGateway();
  const stale = { queued: 0, rounds: 0 };

  for (let round = 0; round < ROUNDS; round++) {
    await waitFor(`round ${round}: logic ready on epoch ${current.epoch}`, () => {
      const s = fleet.stats()[0];
      return s?.state === "ready" && s.epoch === current.epoch;
    });
    // Connections of the current process ask for auth; logic holds the answers.
    const old = [];
    for (let i = 0; i < OLD_AUTHS; i++) {
      const c = await openClient(current.clientPort);
      c.ws.send(JSON.stringify({ type: "auth", token: `old-${round}-${i}` }));
      old.push(c);
    }
    await waitFor(`round ${round}: held auths`, () => held.length === OLD_AUTHS);

    // The process dies; logic notices, then answers the auths it held: queued for the dead epoch.
    current.child.kill("SIGKILL");
    await relay.cut();
    await current.exited;
    await waitFor(`round ${round}: stream down`, () => fleet.stats()[0]?.state !== "ready");
    for (const h of held.splice(0)) answer(h.from, h.event, h.token);
    stale.queued += fleet.stats()[0]?.messages ?? 0;

    // Its successor at the same address has connections waiting for auth before logic reaches it.
    const successor = await next;
    next = startGateway();
    const idle = await openClient(successor.clientPort);
    const asking: { c: Awaited<ReturnType<typeof openClient>>; user: string }[] = [];
    for (const who of ["a", "b"]) {
      const c = await openClient(successor.clientPort);
      const user = `new-${round}-${who}`;
      c.ws.send(JSON.stringify({ type: "auth", token: user }));
      asking.push({ c, user });
    }
    await waitFor(
      `round ${round}: auths parked at the new process`,
      async () =>
        (await gatewayMetric(successor, "chatcluster_gateway_link_events_pending")) >= asking.length,
    );
    await relay.forward(successor.internalPort);

    // Every answer a connection gets must be its own; the idle one gets none.
    const violations = () => {
      const v: string[] = [];
      if (idle.frames.length > 0) v.push(`an idle connection got ${JSON.stringify(idle.frames)}`);
      for (const { c, user } of asking) {
        for (const f of c.frames) {
          if (f.type !== "welcome" || f.user !== user)
            v.push(`${user}'s connection got ${JSON.stringify(f)}`);
        }
      }
      return v;
    };
    await waitFor(
      `round ${round}: both new connections welcomed (or a violation)`,
      () => violations().length > 0 || asking.every(({ c }) => c.frames.length > 0),
      30_000,
    );
    assert.deepEqual(violations(), [], `round ${round}`);
    stale.rounds++;
    for (const c of [idle, ...asking.map((a) => a.c), ...old]) c.ws.terminate();
    current = successor;
  }
  await next; // the spare process, ended by the teardown
  const droppedStale = metricValue(
    await registry.metrics(),
    "chatcluster_logic_push_drops_total",
    'reason="epoch_changed"',
  );
  assert.equal(
    stale.queued,
    ROUNDS * OLD_AUTHS,
    "every held answer was queued in logic while the gateway was away",
  );
  assert.equal(
    droppedStale,
    stale.queued,
    "logic dropped every answer queued for a dead epoch (epoch_changed)",
  );
  recordResult({
    id: "security-epoch-race",
    kind: "security",
    load: `${ROUNDS} rounds: ${OLD_AUTHS} auth answers held per round, 3 new connections (1 idle)`,
    fault:
      "gateway SIGKILLed and a new process started at the same address while logic queued auth answers for the old epoch (reliability/epoch-race.test.ts)",
    outcome: `0 answers applied to a connection that did not ask for them; ${droppedStale} stale answers dropped by logic at the new hello (epoch_changed), none written to the new epoch`,
    lost: null,
    durationMs: Date.now() - started,
  });
});
