// The edge applies an auth result only to a connection waiting for one: the
// link already matches replies to pending events, this is the second check.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ReplySchema } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { metricValue } from "../../../logic/src/link/testing/fleet-harness.ts";
import { startTestEdge } from "./testing/edge-harness.ts";
import { TestClient } from "./testing/test-client.ts";

test("an auth result for a connection with no auth in flight is dropped and counted", async (t) => {
  const h = await startTestEdge();
  t.after(() => h.edge.close());
  const idle = await TestClient.open(h.url);
  const alice = await TestClient.open(h.url);
  alice.send({ type: "auth", token: "user:alice" });
  assert.equal((await alice.next("welcome")).user, "alice");
  idle.send({ type: "ping", ts: 1 });
  await idle.next("pong");
  const stray = (connectionId: number) =>
    create(ReplySchema, {
      eventId: 1n,
      connectionId,
      kind: { case: "auth", value: { ok: true, principal: { userId: "mallory", read: [">"] } } },
    });
  // Connection ids count from 2 in a new edge: idle is 2, alice 3.
  h.edge.reply([stray(2), stray(3)]);
  idle.send({ type: "ping", ts: 2 });
  await idle.next("pong");
  alice.send({ type: "ping", ts: 3 });
  await alice.next("pong");
  assert.deepEqual(idle.frames, [], "the idle connection got nothing");
  assert.deepEqual(alice.frames, [], "alice got no second welcome");
  const text = await h.registry.metrics();
  assert.equal(
    metricValue(text, "chatcluster_gateway_dropped_frames_total", 'reason="unexpected_auth_reply"'),
    2,
  );
  idle.ws.close();
  alice.ws.close();
});
