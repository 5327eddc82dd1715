import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { create, fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { Registry } from "prom-client";
import { PrincipalSchema } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { Hooks } from "./hooks.ts";
import { createHooks, type HookSettings } from "./index.ts";
import { type HooksFixture, startHooksFixture } from "./testing/hooks-fixture.ts";

const caller = {
  principal: create(PrincipalSchema, { userId: "alice", read: ["r"], write: ["r"], tokenId: "t-1" }),
  connection: "gw-0/7",
};
const limits = { timeoutMs: 2000, concurrency: 4, onFailure: "refuse" as const };

function settings(url: string, over: Partial<HookSettings> = {}): HookSettings {
  return {
    url,
    protocol: "connect",
    secret: "hook-secret",
    connect: { ...limits, mode: "after" },
    join: { ...limits, rooms: [">"] },
    send: { ...limits, rooms: ["r", "slow.>"] },
    rpc: { ...limits, methods: ["math.>"] },
    ...over,
  };
}

async function metric(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("hooks against a real hooks service", () => {
  let svc: HooksFixture;
  before(async () => {
    svc = await startHooksFixture();
  });
  after(() => svc.close());

  for (const protocol of ["connect", "grpc"] as const) {
    it(`${protocol}: each hook allows, refuses or rewrites, and the secret travels`, async () => {
      const registry = new Registry();
      const hooks = createHooks(settings(svc.url, { protocol }), registry, 1024) as Hooks;
      svc.impl = {
        send: (req) =>
          req.body?.kind.case === "stringValue" && req.body.kind.value === "bad"
            ? { refuse: { code: "moderated", message: "no" } }
            : {
                body: fromJson(ValueSchema, {
                  said: req.body?.kind.value as string,
                  by: req.user?.userId ?? "",
                }),
              },
        join: (req) => ({ data: fromJson(ValueSchema, { topic: req.room, conn: req.connection }) }),
        rpc: (req) =>
          req.method === "math.fail"
            ? { error: { code: "Bad Code!", message: "x" } }
            : { result: req.params },
        connect: (req) =>
          req.identity?.userId === "mallory"
            ? { refuse: { code: "go_away", message: "not you" } }
            : {
                identity: {
                  userId: req.identity?.userId ?? "",
                  read: ["extra"],
                  write: req.identity?.write ?? [],
                  expiresAtMs: req.identity?.expiresAtMs ?? 0n,
                  tokenId: req.identity?.tokenId ?? "",
                },
              },
      };
      assert.deepEqual(await hooks.send(caller, "r", "m1", '"hi"', 0n), {
        ok: true,
        bodyText: '{"said":"hi","by":"alice"}',
      });
      assert.deepEqual(await hooks.send(caller, "r", "m2", '"bad"', 0n), {
        ok: false,
        refusal: { code: "moderated", message: "no" },
      });
      assert.deepEqual(await hooks.join(caller, "lobby", undefined), {
        ok: true,
        dataJson: '{"topic":"lobby","conn":"gw-0/7"}',
      });
      assert.deepEqual(await hooks.rpc(caller, "math.echo", '{"a":[1,2]}'), {
        ok: true,
        resultJson: '{"a":[1,2]}',
      });
      // A code outside [a-z][a-z0-9_]* becomes forbidden.
      assert.deepEqual(await hooks.rpc(caller, "math.fail", ""), {
        ok: false,
        refusal: { code: "forbidden", message: "x" },
      });
      const id = { userId: "carol", read: ["a"], write: [], expiresAtMs: 5, tokenId: "j" };
      assert.deepEqual(await hooks.connect("tok", "1.2.3.4", false, id), {
        ok: true,
        identity: { ...id, read: ["extra"] },
      });
      const refused = await hooks.connect("tok", "", false, { ...id, userId: "mallory" });
      assert.deepEqual(refused, {
        ok: false,
        refusal: { code: "go_away", message: "not you" },
        closeCode: 4001,
      });
      assert.ok(svc.authorizations.length >= 7);
      assert.ok(svc.authorizations.every((a) => a === "Bearer hook-secret"));
      assert.equal(
        await metric(registry, "chatcluster_logic_hook_calls_total", { hook: "send", outcome: "allow" }),
        1,
      );
      assert.equal(
        await metric(registry, "chatcluster_logic_hook_calls_total", { hook: "send", outcome: "refuse" }),
        1,
      );
    });
  }

  it("a timeout, an error and an unusable answer fail by cause; the policy refuses or allows", async () => {
    const registry = new Registry();
    const s = settings(svc.url, {
      send: { timeoutMs: 100, concurrency: 4, onFailure: "refuse", rooms: [">"] },
    });
    const hooks = createHooks(s, registry, 64) as Hooks;
    svc.impl = {
      send: async (req) => {
        if (req.room === "slow") await sleep(400);
        if (req.room === "boom") throw new ConnectError("database down", Code.Internal);
        if (req.room === "big") return { body: fromJson(ValueSchema, "x".repeat(100)) };
        return {};
      },
    };
    const unavailable = { code: "unavailable", retryAfterMs: 1000 };
    const t0 = performance.now();
    const slow = await hooks.send(caller, "slow", "a", "1", 0n);
    assert.ok(performance.now() - t0 < 350, "answered at the timeout, not when the hook did");
    assert.partialDeepStrictEqual(slow, { ok: false, refusal: unavailable });
    assert.partialDeepStrictEqual(await hooks.send(caller, "boom", "a", "1", 0n), {
      ok: false,
      refusal: unavailable,
    });
    assert.partialDeepStrictEqual(await hooks.send(caller, "big", "a", "1", 0n), {
      ok: false,
      refusal: unavailable,
    });
    for (const cause of ["timeout", "error", "bad_response"])
      assert.equal(
        await metric(registry, "chatcluster_logic_hook_failures_total", { hook: "send", cause }),
        1,
        cause,
      );
    assert.equal(
      await metric(registry, "chatcluster_logic_hook_calls_total", { hook: "send", outcome: "fail" }),
      3,
    );

    const allowing = createHooks(
      settings(svc.url, { send: { timeoutMs: 100, concurrency: 4, onFailure: "allow", rooms: [">"] } }),
      new Registry(),
      64,
    ) as Hooks;
    assert.deepEqual(await allowing.send(caller, "boom", "a", "1", 0n), { ok: true });
    // Mode instead has no identity to fall back on: a failure refuses whatever the policy.
    const instead = createHooks(
      settings(svc.url, { connect: { timeoutMs: 100, concurrency: 1, onFailure: "allow", mode: "instead" } }),
      new Registry(),
      64,
    ) as Hooks;
    svc.impl = { connect: () => ({}) };
    assert.partialDeepStrictEqual(await instead.connect("t", "", false), {
      ok: false,
      refusal: { code: "unavailable" },
      closeCode: 4013,
    });
  });

  it("a service nobody listens on fails as unavailable", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const registry = new Registry();
    const hooks = createHooks(settings(`http://127.0.0.1:${port}`), registry, 64) as Hooks;
    assert.partialDeepStrictEqual(await hooks.rpc(caller, "math.x", ""), {
      ok: false,
      refusal: { code: "unavailable" },
    });
    assert.equal(
      await metric(registry, "chatcluster_logic_hook_failures_total", { hook: "rpc", cause: "unavailable" }),
      1,
    );
  });

  it("holds calls to the concurrency limit, queues 16 times as many, and refuses more as overloaded", async () => {
    const registry = new Registry();
    const hooks = createHooks(
      settings(svc.url, { send: { timeoutMs: 5000, concurrency: 2, onFailure: "refuse", rooms: [">"] } }),
      registry,
      64,
    ) as Hooks;
    let running = 0;
    let peak = 0;
    const gate: (() => void)[] = [];
    svc.impl = {
      send: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => gate.push(r));
        running--;
        return {};
      },
    };
    const calls = Array.from({ length: 2 + 32 + 3 }, (_, i) => hooks.send(caller, "r", `m${i}`, "1", 0n));
    const overloaded = await Promise.all(calls.slice(34));
    assert.ok(overloaded.every((o) => !o.ok && o.refusal.code === "unavailable"));
    assert.equal(
      await metric(registry, "chatcluster_logic_hook_failures_total", { hook: "send", cause: "overloaded" }),
      3,
    );
    assert.equal(await metric(registry, "chatcluster_logic_hook_queued_calls", { hook: "send" }), 32);
    let settled = 0;
    for (const c of calls.slice(0, 34)) c.then(() => settled++);
    while (settled < 34) {
      for (const release of gate.splice(0)) release();
      await sleep(5);
    }
    const done = await Promise.all(calls.slice(0, 34));
    assert.deepEqual(
      done.filter((o) => !o.ok),
      [],
    );
    assert.equal(peak, 2);
  });
});
