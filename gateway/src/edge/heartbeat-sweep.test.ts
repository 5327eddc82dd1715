import assert from "node:assert/strict";
import { it } from "node:test";
import type { Connection } from "./connection.ts";
import { resolveEdgeLimits } from "./edge-limits.ts";
import { startHeartbeatSweep } from "./heartbeat-sweep.ts";

it("spreads pings over the heartbeat interval and pings every connection once per interval", async () => {
  const limits = resolveEdgeLimits({ heartbeatMs: 400, closeGraceMs: 100 }); // ticks of 25 ms
  const n = 1600;
  const pingsPerTick: number[] = [];
  let current = 0;
  const pinged = new Map<number, number>();
  const conns = new Map<number, Connection>();
  for (let id = 1; id <= n; id++) {
    const c = {
      id,
      state: "open",
      alive: true,
      pingedAt: 0,
      expiresAtMs: 0,
      openedAt: Date.now(),
      ws: {
        ping() {
          current++;
          pinged.set(id, (pinged.get(id) ?? 0) + 1);
          c.alive = true; // answered at once
        },
        terminate() {
          throw new Error(`connection ${id} terminated`);
        },
      },
    };
    conns.set(id, c as unknown as Connection);
  }
  const timer = startHeartbeatSweep({
    limits,
    conns,
    pending: new Set(),
    closing: new Set(),
    closeConn: () => assert.fail("nothing is closed"),
  });
  const sampler = setInterval(() => {
    pingsPerTick.push(current);
    current = 0;
  }, 25);
  // Until every connection was pinged twice: the waits follow the sweep, not the clock.
  const deadline = Date.now() + 60_000;
  while (pinged.size < n || Math.min(...pinged.values()) < 2) {
    assert.ok(Date.now() < deadline, "every connection pinged twice within 60 s");
    await new Promise((r) => setTimeout(r, 25));
  }
  clearInterval(timer);
  clearInterval(sampler);
  // 1,600 connections over a 400 ms interval in 25 ms ticks: 100 per tick, never all at once.
  assert.ok(
    Math.max(...pingsPerTick) <= 250,
    `at most a few ticks' worth at once: ${Math.max(...pingsPerTick)}`,
  );
  assert.equal(pinged.size, n, "every connection was pinged");
  const counts = [...pinged.values()];
  // ~1000 ms = 2.5 intervals: each connection 2 or 3 times, none starved or hammered.
  assert.ok(
    Math.min(...counts) >= 2 && Math.max(...counts) <= 3,
    `pings per connection ${Math.min(...counts)}..${Math.max(...counts)}`,
  );
});

it("pings a lone socket once per interval, so a slow pong within the interval is never a timeout", async () => {
  // Ticks of 25 ms, interval 400 ms: one socket that answers each ping 300 ms late.
  const limits = resolveEdgeLimits({ heartbeatMs: 400, closeGraceMs: 100 });
  const pings: number[] = [];
  let terminated = false;
  const c = {
    id: 1,
    state: "open",
    alive: true,
    pingedAt: 0,
    expiresAtMs: 0,
    openedAt: Date.now(),
    ws: {
      ping() {
        pings.push(Date.now());
        setTimeout(() => {
          c.alive = true;
        }, 300);
      },
      terminate() {
        terminated = true;
      },
    },
  };
  const timer = startHeartbeatSweep({
    limits,
    conns: new Map([[1, c as unknown as Connection]]),
    pending: new Set(),
    closing: new Set(),
    closeConn: () => assert.fail("nothing is closed"),
  });
  while (pings.length < 4) await new Promise((r) => setTimeout(r, 25));
  clearInterval(timer);
  assert.equal(terminated, false, "a pong 300 ms late within a 400 ms interval is not a timeout");
  for (let i = 1; i < pings.length; i++) {
    const gap = (pings[i] as number) - (pings[i - 1] as number);
    assert.ok(gap >= 360, `pings ${gap} ms apart, want about an interval (400 ms)`);
  }
});
