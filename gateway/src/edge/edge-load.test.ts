import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import WebSocket from "ws";
import type { MessageFrame, ServerFrame } from "../../../protocol/client-frames.ts";
import { FixtureProcess } from "./testing/fixture-process.ts";

// The edge runs in a child process (its own event loop, heap and fds); the
// sockets live here, spread over 127.0.0.2..9 to multiply ephemeral ports.
const fixtures: FixtureProcess[] = [];
const sockets: WebSocket[] = [];
after(async () => {
  for (const s of sockets) s.terminate();
  for (const f of fixtures) await f.stop();
});

/** The kernel's count of connections dropped because an accept queue was full (all sockets). */
function listenOverflows(): number {
  const [head = "", values = ""] = readFileSync("/proc/net/netstat", "utf8").split("\n");
  return Number(values.split(" ")[head.split(" ").indexOf("ListenOverflows")]);
}

interface Peer {
  ws: WebSocket;
  frames: ServerFrame[];
  messages: MessageFrame[];
  closeCode: number;
  closed: Promise<void>;
}

function open(port: number, i: number, user: string): Promise<Peer> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, ["chatcluster.v1"], {
    localAddress: `127.0.0.${2 + (i % 8)}`,
    perMessageDeflate: false,
  });
  sockets.push(ws);
  const peer: Peer = { ws, frames: [], messages: [], closeCode: 0, closed: Promise.resolve() };
  peer.closed = new Promise((r) =>
    ws.on("close", (code) => {
      peer.closeCode = code;
      r();
    }),
  );
  ws.on("error", () => {});
  ws.once("open", () => ws.send(JSON.stringify({ type: "auth", token: `user:${user}` })));
  return new Promise((resolve, reject) => {
    ws.on("message", (data) => {
      const f = JSON.parse(String(data)) as ServerFrame;
      if (f.type === "message") peer.messages.push(f);
      else peer.frames.push(f);
      if (f.type === "welcome") resolve(peer);
    });
    ws.once("close", (code) => reject(new Error(`closed ${code} before welcome`)));
  });
}

async function openMany(port: number, n: number): Promise<Peer[]> {
  const peers: Peer[] = [];
  for (let i = 0; i < n; i += 250) {
    const batch = Array.from({ length: Math.min(250, n - i) }, (_, k) => open(port, i + k, `u${i + k}`));
    peers.push(...(await Promise.all(batch)));
  }
  return peers;
}

async function joinAll(peers: Peer[], room: string): Promise<void> {
  for (const p of peers) p.ws.send(JSON.stringify({ type: "join", room }));
  await until("every joined", () => peers.every((p) => p.frames.some((f) => f.type === "joined")), 60_000);
}

async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

describe("edge under load (edge in a child process)", { timeout: 300_000 }, () => {
  it("fans out to 3,000 sockets: every socket gets every message once, in order", async () => {
    const fx = await FixtureProcess.start({ admissionBurst: 10_000, admissionPerSecond: 10_000 });
    fixtures.push(fx);
    const peers = await openMany(fx.port, 3000);
    await joinAll(peers, "big");
    await fx.call({ op: "publish", room: "big", count: 20, bodyBytes: 200 });
    await until("20 messages everywhere", () => peers.every((p) => p.messages.length >= 20), 60_000);
    for (const p of peers) {
      assert.deepEqual(
        p.messages.map((m) => m.seq),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
    }
    const stats = (await fx.call({ op: "stats" })).stats as { connections: number };
    assert.equal(stats.connections, 3000);
    for (const p of peers) p.ws.terminate();
    await fx.stop();
  });

  it("closes a reader that never reads at its queue bound; the others get everything promptly", async () => {
    const bound = 256 * 1024;
    const fx = await FixtureProcess.start({ sendQueueBytes: bound, writeHighWaterBytes: 64 * 1024 });
    fixtures.push(fx);
    const peers = await openMany(fx.port, 20);
    const stuck = await open(fx.port, 99, "stuck");
    await joinAll([...peers, stuck], "r");
    // Stop reading: the kernel buffers fill, then the edge's queue.
    (stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const latencies: number[] = [];
    for (const p of peers) {
      p.ws.on("message", (data) => {
        const s = String(data);
        const t = /"t":(\d+)/.exec(s);
        if (t) latencies.push(Date.now() - Number(t[1]));
      });
    }
    // Publish until the edge gives up on the stuck reader (kernel buffers absorb a few MB first), then more.
    const slowCloses = async () =>
      Number(
        /chatcluster_gateway_slow_consumer_closes_total (\d+)/.exec(
          (await fx.call({ op: "metrics" })).text as string,
        )?.[1],
      );
    let total = 0;
    while (total < 20_000 && (await slowCloses()) === 0) {
      total = (await fx.call({ op: "publish", room: "r", count: 50, bodyBytes: 4096 })).head as number;
      await new Promise((r) => setTimeout(r, 5));
    }
    // In steps: one tick's burst above the bound would close a fast reader too (that is the bound's job).
    for (let i = 0; i < 10; i++) {
      total = (await fx.call({ op: "publish", room: "r", count: 50, bodyBytes: 4096 })).head as number;
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(
      "others have every message",
      () => peers.every((p) => p.messages.length === total),
      60_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}: total ${total}, got ${peers.map((p) => p.messages.length).join(",")}`);
    });
    const text = (await fx.call({ op: "metrics" })).text as string;
    assert.match(text, /chatcluster_gateway_slow_consumer_closes_total 1\b/);
    const maxQueue = Number(/chatcluster_gateway_send_queue_bytes\{stat="max"\} (\d+)/.exec(text)?.[1]);
    assert.ok(maxQueue <= bound, `no socket holds more than the bound now (max ${maxQueue})`);
    for (const p of peers) assert.equal(p.ws.readyState, WebSocket.OPEN);
    latencies.sort((a, b) => a - b);
    // Generous bound: the CPU is shared with other work; the point is "not blocked behind the stuck reader".
    assert.ok(quantile(latencies, 0.99) < 2000, `p99 ${quantile(latencies, 0.99)}ms`);
    (stuck.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await stuck.closed;
    assert.ok(stuck.messages.length < total, "the stuck reader was cut off, not served");
    for (const p of peers) p.ws.terminate();
    await fx.stop();
  });

  it("holds the process to its send budget by closing the reader furthest behind first", async () => {
    const MiB = 1024 * 1024;
    const budget = 16 * MiB;
    // The per-socket bound is out of the way: only the budget closes anyone here.
    const fx = await FixtureProcess.start({
      sendQueueBytes: 256 * MiB,
      sendBudgetBytes: budget,
      writeHighWaterBytes: 64 * 1024,
      closeGraceMs: 120_000,
    });
    fixtures.push(fx);
    const peers = await openMany(fx.port, 10);
    const furthest = await open(fx.port, 98, "furthest");
    const behind = await open(fx.port, 99, "behind");
    await joinAll([...peers, furthest, behind], "r");
    const metric = async (pattern: RegExp) =>
      Number(pattern.exec((await fx.call({ op: "metrics" })).text as string)?.[1]);
    const queued = (stat: "sum" | "max") =>
      metric(new RegExp(`chatcluster_gateway_send_queue_bytes\\{stat="${stat}"\\} (\\d+)`));
    const budgetCloses = () => metric(/chatcluster_gateway_send_budget_closes_total (\d+)/);
    let total = 0;
    const publish = async () => {
      total = (await fx.call({ op: "publish", room: "r", count: 50, bodyBytes: 4096 })).head as number;
      await new Promise((r) => setTimeout(r, 5));
    };
    const pause = (p: Peer) => (p.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const resume = (p: Peer) => (p.ws as unknown as { _socket: { resume(): void } })._socket.resume();

    // One reader stops; once the kernel's buffers are full its backlog grows in the gateway.
    pause(furthest);
    while ((await queued("max")) < 4 * MiB) {
      await publish();
      assert.ok(total < 40_000, "the stopped reader's backlog never grew");
    }
    // A second one stops: both now fall behind, the first by 4 MiB more.
    pause(behind);
    while ((await budgetCloses()) === 0) {
      await publish();
      assert.ok(total < 60_000, "the budget never closed anyone");
    }
    assert.equal(await budgetCloses(), 1, "one close was enough to get under the budget");
    assert.equal(await metric(/chatcluster_gateway_slow_consumer_closes_total (\d+)/), 0);
    assert.ok((await queued("sum")) <= budget, "the sockets left hold less than the budget");

    // The one furthest behind got the slow-consumer close after what it had been sent.
    resume(furthest);
    await until("the furthest reader's close", () => furthest.closeCode !== 0, 30_000);
    assert.equal(furthest.closeCode, 4009);
    assert.ok(furthest.messages.length < total, "it was cut off");
    // The other stopped reader was kept and, reading again, gets everything, as do the readers.
    resume(behind);
    await until(
      "everyone left has every message",
      () => [...peers, behind].every((p) => p.messages.length === total),
      60_000,
    );
    for (const p of [...peers, behind]) assert.equal(p.ws.readyState, WebSocket.OPEN);
    for (const p of [...peers, behind]) p.ws.terminate();
    await fx.stop();
  });

  it("spreads drain reconnect hints uniformly over the window", async () => {
    const fx = await FixtureProcess.start({
      admissionBurst: 10_000,
      admissionPerSecond: 10_000,
      closeGraceMs: 500,
    });
    fixtures.push(fx);
    const peers = await openMany(fx.port, 1000);
    const windowMs = 3000;
    const drained = fx.call({ op: "drain", windowMs });
    await until("every hint", () => peers.every((p) => p.frames.some((f) => f.type === "reconnect")));
    const hints = peers.map(
      (p) => (p.frames.find((f) => f.type === "reconnect") as { after_ms: number }).after_ms,
    );
    const after = [...hints].sort((a, b) => a - b);
    assert.ok((after[0] as number) >= 0 && (after[after.length - 1] as number) < windowMs);
    for (const [q, want] of [
      [0.25, 0.25],
      [0.5, 0.5],
      [0.75, 0.75],
    ] as const) {
      const got = quantile(after, q) / windowMs;
      assert.ok(Math.abs(got - want) < 0.05, `quantile ${q}: ${got.toFixed(3)} of the window`);
    }
    // Per 10% bucket of the window: 100 +- 30 of the 1000 hints (uniform, no clumps).
    const buckets = new Array<number>(10).fill(0);
    for (const a of after) buckets[Math.floor((a / windowMs) * 10)]! += 1;
    for (const b of buckets) assert.ok(b > 70 && b < 130, `buckets ${buckets.join(",")}`);
    // Clients follow their hint; the rest are closed at the end. The drain ends inside window + grace.
    for (const [i, p] of peers.entries()) setTimeout(() => p.ws.close(1000), hints[i] as number).unref();
    const ms = (await drained).ms as number;
    assert.ok(ms < windowMs + 500 + 1500, `drain took ${ms}ms`);
    const stats = (await fx.call({ op: "stats" })) as { stats: { connections: number }; ready: string };
    assert.equal(stats.stats.connections, 0);
    assert.equal(stats.ready, "draining");
    await fx.stop();
  });

  it("on SIGTERM: hints over the window, closes the rest with 4012, exits 0 before the grace period", async () => {
    const windowMs = 2000;
    const graceMs = 6000;
    const fx = await FixtureProcess.start(
      { admissionBurst: 10_000, admissionPerSecond: 10_000, closeGraceMs: 1000 },
      { drainOnSigterm: { windowMs, graceMs } },
    );
    fixtures.push(fx);
    const peers = await openMany(fx.port, 300);
    const exited = new Promise<{ code: number | null; ms: number }>((resolve) => {
      const t = Date.now();
      fx.child.once("exit", (code) => resolve({ code, ms: Date.now() - t }));
    });
    fx.child.kill("SIGTERM");
    await until("every hint", () => peers.every((p) => p.frames.some((f) => f.type === "reconnect")));
    const hints = peers.map(
      (p) => (p.frames.find((f) => f.type === "reconnect") as { after_ms: number }).after_ms,
    );
    assert.ok(hints.every((h) => h >= 0 && h < windowMs));
    // Some follow their hint (those well inside the window, so the server's final close cannot race
    // them); the others stay until the end of the window.
    const follows = (i: number) => i % 3 === 0 && (hints[i] as number) < windowMs * 0.7;
    for (const [i, p] of peers.entries())
      if (follows(i)) setTimeout(() => p.ws.close(1000), hints[i]).unref();
    const { code, ms } = await exited;
    assert.equal(code, 0, "clean exit: the drain finished before the hard deadline");
    assert.ok(ms < graceMs, `exited after ${ms}ms`);
    await Promise.all(peers.map((p) => p.closed));
    for (const [i, p] of peers.entries()) assert.equal(p.closeCode, follows(i) ? 1000 : 4012);
  });

  it("takes a storm of 3,500 simultaneous upgrades without the kernel dropping any (no accept-queue overflow)", async () => {
    // With Node's default backlog (511) a storm like this overflowed the accept
    // queue thousands of times: the kernel dropped SYNs and clients waited for
    // retransmits. Below the 4,096 backlog it holds however slowly a busy
    // machine lets the process accept; a bigger storm would also measure the CPU.
    const f = await FixtureProcess.start({
      admissionPerSecond: 100_000,
      admissionBurst: 100_000,
      maxPendingAuth: 100_000,
    });
    fixtures.push(f);
    const before = listenOverflows();
    const n = 3500;
    const raw: Socket[] = [];
    let answered = 0;
    let upgraded = 0;
    await new Promise<void>((resolve) => {
      const done = () => {
        if (++answered === n) resolve();
      };
      for (let i = 0; i < n; i++) {
        const s = connect({ port: f.port, host: "127.0.0.1", localAddress: `127.0.0.${2 + (i % 8)}` });
        raw.push(s);
        let seen = false;
        s.on("connect", () =>
          s.write(
            `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
              "Sec-WebSocket-Protocol: chatcluster.v1\r\n\r\n",
          ),
        );
        s.on("data", (d) => {
          if (seen) return;
          seen = true;
          if (d.toString("latin1", 0, 12) === "HTTP/1.1 101") upgraded++;
          done();
        });
        s.on("error", () => {
          if (seen) return;
          seen = true;
          done();
        });
      }
    });
    const overflowed = listenOverflows() - before;
    for (const s of raw) s.destroy();
    assert.equal(upgraded, n, "every upgrade answered 101");
    assert.equal(overflowed, 0, "TcpExt ListenOverflows did not move");
  });
});
