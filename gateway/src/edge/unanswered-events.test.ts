import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { waitFor } from "../../../logic/src/link/testing/fleet-harness.ts";
import { createLogger } from "../../../platform/logger.ts";
import { createMetricsRegistry } from "../../../platform/metrics-registry.ts";
import { createLogicLinkServer } from "../link/logic-link-server.ts";
import { createEdge, type Edge } from "./edge.ts";
import { startTestEdge } from "./testing/edge-harness.ts";
import { TestClient } from "./testing/test-client.ts";

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe("events logic does not answer in time", () => {
  it("a real link gives up an auth at its deadline and the edge closes the connection with 4013", async () => {
    // No logic process ever connects: the auth waits for a stream until its deadline.
    const registry = createMetricsRegistry("gateway", "test");
    const log = createLogger("gateway", "silent");
    let edge: Edge | undefined;
    const server = createLogicLinkServer({
      sink: {
        deliver: (d) => edge?.deliver(d),
        reply: (r) => edge?.reply(r),
        expired: (e) => edge?.expired(e),
      },
      gatewayId: "gw-deadline",
      epoch: "e1",
      registry,
      log,
      host: "127.0.0.1",
      port: 0,
      pingIntervalMs: 50,
      deadAfterMs: 400,
      pendingEventTimeoutMs: 300,
    });
    await server.listen();
    cleanups.push(() => server.close());
    edge = createEdge({
      link: server.link,
      registry,
      log,
      gatewayId: "gw-deadline",
      limits: { authTimeoutMs: 60_000 },
    });
    const started = Date.now();
    const { port } = await edge.listen("127.0.0.1", 0);
    const e = edge;
    cleanups.push(() => e.close());
    const c = await TestClient.open(`ws://127.0.0.1:${port}/`);
    c.send({ type: "auth", token: "user:alice" });
    assert.equal(await c.waitClosed(), 4013, "overloaded: the SDK reconnects with backoff");
    assert.ok(Date.now() - started < 10_000, "at the event deadline, not the auth timeout");
    const text = await registry.metrics();
    assert.match(text, /chatcluster_gateway_link_drops_total\{reason="deadline"\} 1\b/);
    assert.match(text, /chatcluster_gateway_link_events_pending 0\b/);
    assert.match(text, /chatcluster_gateway_link_events_pending_bytes 0\b/);
  });

  it("answers given-up joins, sends, queries and refreshes with retryable errors", async () => {
    const h = await startTestEdge();
    cleanups.push(() => h.edge.close());
    const c = await TestClient.open(h.url);
    c.send({ type: "auth", token: "user:alice" });
    await c.next("welcome");
    c.send({ type: "join", room: "kept" });
    await c.next("joined");
    h.link.silent.add("join");
    h.link.silent.add("send");
    h.link.silent.add("presenceQuery");
    h.link.silent.add("auth");
    c.send({ type: "join", room: "new" });
    c.send({ type: "join", room: "kept", since: 0 });
    c.send({ type: "send", room: "kept", id: "m1", body: { text: "hi" } });
    c.send({ type: "presence", room: "kept" });
    c.send({ type: "auth", token: "user:alice" });
    await waitFor("five unanswered events", () => h.link.unanswered.length === 5);
    assert.ok(h.link.interest.has("new"), "a join in flight holds its room's interest");

    h.edge.expired(h.link.unanswered.splice(0));
    const errors = [];
    for (let i = 0; i < 5; i++) errors.push(await c.next("error"));
    for (const e of errors) {
      assert.equal(e.code, "unavailable");
      assert.ok((e.retry_after_ms ?? 0) > 0, "with a retry hint");
    }
    assert.deepEqual(errors.map((e) => e.id).sort(), [undefined, "kept", "kept", "m1", "new"].sort());
    // The first join of a room leaves it; a resume of a room already joined keeps it.
    assert.equal(h.link.interest.has("new"), false);
    assert.equal(h.link.interest.has("kept"), true);
    // The refresh is no longer in flight: another one is taken.
    h.link.silent.clear();
    c.send({ type: "auth", token: "user:alice" });
    await c.next("welcome");
    // The connection stays up throughout.
    assert.equal(c.ws.readyState, c.ws.OPEN);
  });
});
