// The push stream end to end: real gateway processes (gateway-fixture.ts,
// spawned), the real GatewayFleet in this process, loopback HTTP/2.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { checkedPayload, stampPayload } from "../../../gateway/src/link/testing/fixture-protocol.ts";
import { GatewayProcess } from "../../../gateway/src/link/testing/gateway-process.ts";
import { ReplySchema } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { FileDiscovery, StaticDiscovery } from "../discovery/index.ts";
import { metricValue, testFleet, waitFor } from "./testing/fleet-harness.ts";

const procs: GatewayProcess[] = [];
async function gateway(o: Parameters<typeof GatewayProcess.start>[0]): Promise<GatewayProcess> {
  const g = await GatewayProcess.start(o);
  procs.push(g);
  return g;
}
after(async () => {
  await Promise.all(procs.map((p) => p.dispose()));
});

test("deliveries arrive in order; events are answered and acknowledged", async (t) => {
  const gw = await gateway({ gatewayId: "order-0" });
  await gw.rooms("a", "b");
  const { fleet, events } = testFleet(new StaticDiscovery([gw.address]), "logic-order");
  t.after(() => fleet.stop());
  await fleet.start();
  await waitFor("interest snapshot", () => fleet.stats()[0]?.rooms === 2);
  const n = 20_000;
  for (let i = 1; i <= n; i++) {
    // Sizes vary so frames and batch buffers change size from batch to batch.
    fleet.deliverToRoom(
      i % 2 === 0 ? "a" : "b",
      BigInt(i),
      checkedPayload(BigInt(i), 12 + ((i * 37) % 3000)),
    );
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
  }
  const s = await gw.waitDeliveries(n);
  assert.equal(s.deliveries, n);
  assert.equal(s.orderViolations, 0, "seq went backwards within a room");
  assert.equal(s.corrupt, 0, "payload bytes changed on the way");
  assert.ok(s.batches < n / 4, `expected batching, got ${s.batches} batches for ${n} deliveries`);

  await gw.call({ cmd: "sendEvents", room: "a", count: 50 });
  await waitFor("replies at the gateway", async () => (await gw.stats()).replies === 50);
  assert.equal(events.length, 50);
  assert.equal(events[0]?.from.id, "order-0");
  assert.equal((await gw.stats()).pendingEvents, 0);
});

test("deliveries go only to gateways with interest; deltas update it", async (t) => {
  const a = await gateway({ gatewayId: "interest-a" });
  const b = await gateway({ gatewayId: "interest-b" });
  await a.rooms("x");
  await b.rooms("y");
  const { fleet } = testFleet(new StaticDiscovery([a.address, b.address]), "logic-interest");
  t.after(() => fleet.stop());
  await fleet.start();
  await waitFor(
    "both snapshots",
    () => fleet.stats().every((s) => s.rooms === 1) && fleet.connectedGateways() === 2,
  );
  fleet.deliverToRoom("x", 1n, new Uint8Array([1]));
  await a.waitDeliveries(1);
  await b.call({ cmd: "roomAdded", rooms: ["x"] });
  await b.call({ cmd: "roomRemoved", rooms: ["y"] });
  await waitFor("delta at logic", () => fleet.stats().find((s) => s.gatewayId === "interest-b")?.rooms === 1);
  fleet.deliverToRoom("x", 2n, new Uint8Array([2]));
  fleet.deliverToRoom("y", 1n, new Uint8Array([3]));
  await a.waitDeliveries(2);
  await b.waitDeliveries(1);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await b.stats()).deliveries, 1, "b got a delivery for a room it left");
});

test("a SIGKILLed gateway restarted on its port gets a new epoch, a fresh snapshot and deliveries", async (t) => {
  const first = await gateway({ gatewayId: "restart-0", pingIntervalMs: 200, deadAfterMs: 1000 });
  await first.rooms("r");
  const { fleet, registry } = testFleet(new StaticDiscovery([first.address]), "logic-restart", {
    pingIntervalMs: 200,
    deadAfterMs: 1000,
    reconnectBaseMs: 50,
    reconnectMaxMs: 500,
  });
  t.after(() => fleet.stop());
  await fleet.start();
  await waitFor("first snapshot", () => fleet.stats()[0]?.rooms === 1);
  fleet.deliverToRoom("r", 1n, new Uint8Array([1]));
  await first.waitDeliveries(1);

  first.kill();
  await first.exited;
  await waitFor("stream down", () => fleet.connectedGateways() === 0);
  const second = await gateway({ gatewayId: "restart-0", port: first.port });
  assert.notEqual(second.epoch, first.epoch);
  await second.rooms("r", "s");
  await waitFor("new epoch and snapshot", () => {
    const s = fleet.stats()[0];
    return s?.epoch === second.epoch && s.rooms === 2;
  });
  fleet.deliverToRoom("s", 1n, new Uint8Array([2]));
  fleet.deliverToRoom("r", 2n, new Uint8Array([3]));
  await second.waitDeliveries(2);
  const text = await registry.metrics();
  assert.ok(metricValue(text, "chatcluster_logic_push_reconnects_total", 'reason="stream_error"') >= 1);
  assert.equal(metricValue(text, "chatcluster_logic_push_connected_streams"), 1);
});

test("replies queued while a gateway was down are dropped at a new epoch's hello, never written to it", async (t) => {
  const first = await gateway({ gatewayId: "held-0", pingIntervalMs: 200, deadAfterMs: 1000 });
  const { fleet, registry, events } = testFleet(
    new StaticDiscovery([first.address]),
    "logic-held",
    { pingIntervalMs: 200, deadAfterMs: 1000, reconnectBaseMs: 50, reconnectMaxMs: 500 },
    false,
  );
  t.after(() => fleet.stop());
  await fleet.start();
  await waitFor("stream ready", () => fleet.stats()[0]?.state === "ready");
  await first.call({ cmd: "sendEvents", room: "a", count: 5 });
  await waitFor("events at logic", () => events.length === 5);

  first.kill();
  await first.exited;
  await waitFor("stream down", () => fleet.connectedGateways() === 0);
  const done = (e: (typeof events)[number]) =>
    fleet.reply(
      e.from,
      create(ReplySchema, {
        eventId: e.event.eventId,
        connectionId: e.event.connectionId,
        kind: { case: "done", value: {} },
      }),
    );
  for (const e of events) done(e);
  assert.equal(fleet.stats()[0]?.messages, 5, "the replies wait in the queue");

  const second = await gateway({ gatewayId: "held-0", port: first.port });
  await waitFor("the new epoch ready", () => fleet.stats()[0]?.epoch === second.epoch);
  // An event of the new process and its reply: anything queued before it would have arrived first.
  await second.call({ cmd: "sendEvents", room: "a", count: 1 });
  await waitFor("the new event at logic", () => events.length === 6);
  done(events[5] as (typeof events)[number]);
  await waitFor("its reply applied", async () => (await second.stats()).replies === 1);
  const gw = await second.metrics();
  for (const reason of ["duplicate_reply", "mismatched_reply", "unexpected_auth_reply"])
    assert.equal(metricValue(gw, "chatcluster_gateway_link_drops_total", `reason="${reason}"`), 0, reason);
  const text = await registry.metrics();
  assert.equal(metricValue(text, "chatcluster_logic_push_drops_total", 'reason="epoch_changed"'), 5);
});

test("a SIGSTOPped gateway neither slows the healthy one nor grows its queue past the bound", async (t) => {
  const healthy = await gateway({ gatewayId: "stall-healthy" });
  const stalled = await gateway({ gatewayId: "stall-stopped" });
  await healthy.rooms("r");
  await stalled.rooms("r");
  const maxQueueBytes = 2 * 1024 * 1024;
  const { fleet, registry } = testFleet(
    new StaticDiscovery([healthy.address, stalled.address]),
    "logic-stall",
    {
      maxQueueBytes,
      maxQueueMessages: 4000,
      // Keep the stalled stream up for the whole test so the bound, not a reset, is what holds memory.
      pingIntervalMs: 1000,
      deadAfterMs: 60_000,
      overflowResetMs: 60_000,
    },
  );
  t.after(() => {
    stalled.resume();
    return fleet.stop();
  });
  await fleet.start();
  await waitFor(
    "both snapshots",
    () => fleet.stats().every((s) => s.rooms === 1) && fleet.connectedGateways() === 2,
  );

  let seq = 0n;
  // 2,000 msg/s on 1 ms timers; payloads carry their scheduled time.
  const offer = async (ms: number) => {
    const start = process.hrtime.bigint();
    const end = start + BigInt(ms) * 1_000_000n;
    let next = start;
    for (;;) {
      const now = process.hrtime.bigint();
      if (now >= end) return;
      while (next <= now) {
        const payload = new Uint8Array(1200);
        stampPayload(payload, next);
        fleet.deliverToRoom("r", ++seq, payload);
        next += 500_000n;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  const measure = async (ms: number) => {
    await healthy.call({ cmd: "latencyStart" });
    await offer(ms);
    await healthy.waitDeliveries(Number(seq));
    const h = await healthy.latencyReport();
    assert.ok(h !== undefined && h.count > 0);
    return h;
  };
  await offer(500); // warm-up
  const baseline = await measure(3000);

  stalled.pause();
  const during = await measure(3000);
  const text = await registry.metrics();
  const queued = metricValue(text, "chatcluster_logic_push_queue_bytes", `gateway="${stalled.address}"`);
  const dropped = metricValue(text, "chatcluster_logic_push_drops_total", 'reason="queue_full"');
  stalled.resume();

  t.diagnostic(
    `healthy p99 ${baseline.p99} us before, ${during.p99} us during the stall; stalled queue ${queued} B`,
  );
  // Generous: the CPU is shared with other work, so only a gross regression fails.
  assert.ok(
    during.p99 < 5 * baseline.p99 + 50_000,
    `healthy p99 rose from ${baseline.p99} to ${during.p99} us`,
  );
  assert.ok(queued > 0 && queued <= maxQueueBytes, `stalled queue ${queued} B, bound ${maxQueueBytes} B`);
  assert.ok(dropped > 0, "overflow must be counted");
  // After SIGCONT the stalled gateway drains and takes deliveries again.
  const before = (await stalled.stats()).deliveries;
  await waitFor("stalled gateway resumes", async () => {
    fleet.deliverToRoom("r", ++seq, new Uint8Array(8));
    return (await stalled.stats()).deliveries > before;
  });
});

test("file discovery adds and removes streams as the file changes", async (t) => {
  const a = await gateway({ gatewayId: "disc-a" });
  const b = await gateway({ gatewayId: "disc-b" });
  const dir = mkdtempSync(join(tmpdir(), "cc-discovery-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "gateways");
  writeFileSync(file, `# gateways\n${a.address}\n`);
  const { fleet } = testFleet(new FileDiscovery({ path: file, pollIntervalMs: 100 }), "logic-disc");
  t.after(() => fleet.stop());
  await fleet.start();
  await waitFor("stream to a", () => fleet.connectedGateways() === 1);
  writeFileSync(file, `${a.address}\ndisc-b=${b.address}\n`);
  await waitFor(
    "stream to b",
    async () => fleet.connectedGateways() === 2 && (await b.stats()).connectedStreams === 1,
  );
  writeFileSync(file, `disc-b=${b.address}\n`);
  await waitFor("stream to a closed", async () => (await a.stats()).connectedStreams === 0);
  assert.equal(fleet.connectedGateways(), 1);
  assert.deepEqual(
    fleet.stats().map((s) => s.endpointId),
    ["disc-b"],
  );
});

test("events of a dead logic stream are resent to another logic process", async (t) => {
  const gw = await gateway({ gatewayId: "resend-0" });
  await gw.rooms("q");
  const mute = testFleet(new StaticDiscovery([gw.address]), "logic-mute", {}, false);
  const live = testFleet(new StaticDiscovery([gw.address]), "logic-live");
  t.after(() => Promise.all([mute.fleet.stop(), live.fleet.stop()]));
  await mute.fleet.start();
  await live.fleet.start();
  await waitFor("two logic streams", async () => (await gw.stats()).connectedStreams === 2);
  // Rooms are spread by rendezvous hashing: send on many keys so both get some.
  for (let i = 0; i < 20; i++) await gw.call({ cmd: "sendEvents", room: `room-${i}`, count: 5 });
  await waitFor("events delivered", () => mute.events.length + live.events.length === 100);
  assert.ok(mute.events.length > 0, "rendezvous sent nothing to one of two logic streams");
  const unanswered = mute.events.length;
  await mute.fleet.stop();
  await waitFor("all answered", async () => (await gw.stats()).pendingEvents === 0);
  assert.equal(live.events.length, 100, "each unanswered event is resent exactly once");
  const text = await gw.metrics();
  assert.equal(metricValue(text, "chatcluster_gateway_link_events_resent_total"), unanswered);
});

test("TLS with a shared secret: the fleet verifies the gateway certificate and authenticates", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "cc-link-tls-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cert = join(dir, "tls.crt");
  const key = join(dir, "tls.key");
  // openssl is a test prerequisite (apt-get install openssl).
  execFileSync("openssl", [
    ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
    ...["-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=gateway"],
    ...["-addext", "subjectAltName=DNS:gateway.internal,IP:127.0.0.1"],
  ]);
  const gw = await gateway({ gatewayId: "tls-0", tls: { certFile: cert, keyFile: key }, secret: "shh" });
  await gw.rooms("t");
  const { fleet } = testFleet(new StaticDiscovery([gw.address]), "logic-tls", {
    tls: { caFile: cert, serverName: "gateway.internal" },
    secret: "shh",
  });
  t.after(() => fleet.stop());
  await fleet.start();
  await waitFor("tls stream", () => fleet.stats()[0]?.rooms === 1);
  fleet.deliverToRoom("t", 1n, checkedPayload(1n, 2000));
  const s = await gw.waitDeliveries(1);
  assert.equal(s.corrupt, 0);
});

test("settled: each discovered gateway has answered or failed a first attempt", async (t) => {
  const live = await gateway({ gatewayId: "settled-0" });
  // A port that accepts and never speaks HTTP/2 (a hung pod), and one that refuses.
  const silent = createServer(() => {});
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  t.after(() => silent.close());
  const refused = createServer();
  refused.listen(0, "127.0.0.1");
  await once(refused, "listening");
  const refusedPort = (refused.address() as AddressInfo).port;
  await new Promise((r) => refused.close(r));
  const silentPort = (silent.address() as AddressInfo).port;
  const { fleet } = testFleet(
    new StaticDiscovery([live.address, `127.0.0.1:${silentPort}`, `127.0.0.1:${refusedPort}`]),
    "logic-settled",
    { helloTimeoutMs: 1500 },
  );
  t.after(() => fleet.stop());
  await fleet.start();
  await waitFor("the live gateway's stream", () => fleet.connectedGateways() === 1);
  assert.equal(fleet.settled(), false, "the silent gateway's first attempt is still open");
  await waitFor("the silent gateway's hello timeout", () => fleet.settled(), 10_000);
  assert.equal(fleet.connectedGateways(), 1);
});

test("a gateway answering at another gateway's endpoint (a reused pod IP) is refused, never filed under either", async (t) => {
  const impostor = await gateway({ gatewayId: "named-b" });
  const { fleet, registry } = testFleet(new StaticDiscovery([`named-a=${impostor.address}`]), "logic-named");
  t.after(() => fleet.stop());
  await fleet.start();
  await waitFor(
    "the endpoint reset for answering as another gateway",
    async () =>
      metricValue(await registry.metrics(), "chatcluster_logic_push_reconnects_total", 'reason="protocol"') >=
      1,
  );
  assert.equal(fleet.connectedGateways(), 0, "no stream to the endpoint counts as connected");
  assert.deepEqual(
    fleet.stats().filter((s) => s.gatewayId === "named-b"),
    [],
    "nothing is filed under the impostor's id",
  );
});

test("a gateway declaring more interest than the bound is reset, in its snapshot or by deltas", async (t) => {
  const big = await gateway({ gatewayId: "interest-big" });
  await big.rooms("r1", "r2", "r3", "r4");
  const small = await gateway({ gatewayId: "interest-small" });
  await small.rooms("s1", "s2");
  const { fleet, registry } = testFleet(new StaticDiscovery([big.address, small.address]), "logic-bound", {
    maxInterestPerGateway: 3,
  });
  t.after(() => fleet.stop());
  await fleet.start();
  const resets = async () =>
    metricValue(await registry.metrics(), "chatcluster_logic_push_reconnects_total", 'reason="protocol"');
  await waitFor("the oversized snapshot refused", async () => (await resets()) >= 1);
  await waitFor(
    "the small gateway kept",
    () => fleet.stats().find((s) => s.gatewayId === "interest-small")?.rooms === 2,
  );
  assert.equal(
    fleet.stats().find((s) => s.gatewayId === "interest-big")?.rooms ?? 0,
    0,
    "nothing kept of it",
  );
  const before = await resets();
  await small.call({ cmd: "roomAdded", rooms: ["s3", "s4"] });
  await waitFor("the oversized delta refused", async () => (await resets()) > before);
});
