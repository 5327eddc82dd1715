import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { startTestEdge } from "./testing/edge-harness.ts";
import { TestClient } from "./testing/test-client.ts";

type Harness = Awaited<ReturnType<typeof startTestEdge>>;
const harnesses: Harness[] = [];
after(async () => {
  for (const h of harnesses) await h.edge.close();
});

async function setup() {
  const h = await startTestEdge();
  harnesses.push(h);
  const c = await TestClient.open(h.url);
  c.send({ type: "auth", token: "reader:carol:team.a,team.b" });
  await c.next("welcome");
  return { h, c };
}

/** Every frame the client got before the pong of a ping sent now. */
async function roundTrip(c: TestClient, ts: number) {
  c.send({ type: "ping", ts });
  for (;;) {
    const pong = await c.next("pong");
    if (pong.ts === ts) return c.frames.splice(0);
  }
}

describe("edge: a membership lasts while the token grants the room", () => {
  it("a refresh to a token without a room leaves it with `left`; the others stay", async () => {
    const { h, c } = await setup();
    c.send({ type: "join", room: "team.a" });
    c.send({ type: "join", room: "team.b", presence: true });
    await c.next("joined");
    await c.next("joined");
    c.send({ type: "auth", token: "reader:carol:team.a" });
    assert.equal((await c.next("welcome")).user, "carol");
    assert.deepEqual(await c.next("left"), { type: "left", room: "team.b", reason: "forbidden" });
    assert.ok(!h.link.interest.has("team.b"), "no interest left in the revoked room");
    assert.ok(!h.link.interest.has("team.b#presence"), "nor in its presence");
    await roundTrip(c, 1);
    assert.equal(h.link.counts.leave, 1, "logic is told of the leave");
    h.link.publish("team.b", "bob", "b1", '"gone"');
    h.link.publish("team.a", "bob", "a1", '"here"');
    const m = await c.next("message");
    assert.equal(m.room, "team.a");
    const rest = await roundTrip(c, 2);
    assert.ok(!rest.some((f) => f.type === "message"), "nothing of team.b arrived");
    assert.match(await h.registry.metrics(), /chatcluster_gateway_rooms_revoked_total 1\b/);
  });

  it("a join answered after a refresh took the room away writes no page and leaves the room", async () => {
    const { h, c } = await setup();
    h.link.publish("team.b", "bob", "b1", '"history"');
    h.link.silent.add("join");
    c.send({ type: "join", room: "team.b" });
    c.send({ type: "join", room: "team.a" });
    while (h.link.unanswered.length < 2) await new Promise((r) => setTimeout(r, 10));
    // team.a stays in flight across the refresh; team.b is revoked by it, answered or not.
    c.send({ type: "auth", token: "reader:carol:team.a" });
    await c.next("welcome");
    assert.equal((await c.next("left")).room, "team.b");
    h.link.silent.delete("join");
    for (const ev of h.link.unanswered.splice(0)) h.link.send(ev, "");
    assert.equal((await c.next("joined")).room, "team.a");
    const rest = await roundTrip(c, 3);
    assert.deepEqual(
      rest.filter((f) => f.type === "joined" || f.type === "message"),
      [],
      "the page of team.b is not written",
    );
    assert.ok(!h.link.interest.has("team.b"));
  });

  it("a resume accepted for a room the token no longer grants is not kept", async () => {
    const { h, c } = await setup();
    c.send({ type: "join", room: "team.b" });
    await c.next("joined");
    c.send({ type: "auth", token: "reader:carol:team.a" });
    await c.next("welcome");
    await c.next("left");
    // The stand-in logic accepts any join; the gateway still keeps only what the token grants.
    c.send({ type: "join", room: "team.b", since: 0 });
    assert.deepEqual(await c.next("left"), { type: "left", room: "team.b", reason: "forbidden" });
    const rest = await roundTrip(c, 4);
    assert.ok(!rest.some((f) => f.type === "joined"));
    assert.ok(!h.link.interest.has("team.b"));
  });
});
