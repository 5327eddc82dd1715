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
import type { PresenceChangeFrame, SignalEventFrame } from "../../protocol/presence-frames.ts";
import { type NatsServer, needsReal, startNats } from "../../testenv/harness/index.ts";
import { ChatClient, type ClientErrorEvent, type MessageFrame, type ReadEventFrame } from "./index.ts";

// The whole stack as real processes: two gateways, two logic processes, and
// each store: SQLite (messages, read markers and the presence table in files
// both logic processes open) or JetStream (a real nats-server from `make
// testenv`; the presence table is a stream both processes follow).
function stackSuite(store: "sqlite" | "nats"): void {
  let stack: DevStack;
  let dir: string;
  let secret: string;
  let nats: NatsServer | undefined;
  const clients: ChatClient[] = [];
  const output: string[] = [];

  async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  interface Seen {
    client: ChatClient;
    presence: PresenceChangeFrame[];
    signals: SignalEventFrame[];
    reads: ReadEventFrame[];
    errors: ClientErrorEvent[];
    messages: MessageFrame[];
  }

  async function connect(user: string, gateway: number, room: string, presence: boolean): Promise<Seen> {
    const token = await signDevToken(secret, user);
    const client = new ChatClient({
      url: stack.gatewayUrls[gateway] as string,
      token,
      WebSocket: WebSocket as never,
      backoff: { initialMs: 200, maxMs: 1000 },
    });
    const seen: Seen = { client, presence: [], signals: [], reads: [], errors: [], messages: [] };
    client.on("presence", (f) => seen.presence.push(f));
    client.on("signal", (f) => seen.signals.push(f));
    client.on("read", (f) => seen.reads.push(f));
    client.on("error", (e) => seen.errors.push(e));
    client.on("message", (m) => seen.messages.push(m));
    let joined = false;
    client.on("joined", () => {
      joined = true;
    });
    client.join(room, { presence });
    client.connect();
    clients.push(client);
    await until(`${user} joined via gateway-${gateway}`, () => joined);
    return seen;
  }

  const states = (s: Seen, user: string) => s.presence.filter((p) => p.user === user).map((p) => p.state);

  describe(`presence, signals and read markers through the whole stack (${store})`, {
    timeout: 180_000,
    skip: store === "nats" && needsReal("nats-server (make testenv)"),
  }, () => {
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "cc-presence-stack-"));
      if (store === "nats") nats = await startNats({ name: "presence-stack" });
      stack = await startLoopbackStack({ dataDir: dir, store, natsUrl: nats?.url }, (line) =>
        output.push(line),
      );
      secret = readFileSync(join(dir, "dev-jwt-secret"), "utf8").trim();
    });

    after(async () => {
      for (const c of clients) c.close();
      await stack?.stop();
      await nats?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("merges presence across two gateways, counts a user once, ignores flaps", async () => {
      const room = "presence.one";
      const alice = await connect("alice", 0, room, true);
      const bob = await connect("bob", 1, room, true);
      const carol1 = await connect("carol", 0, room, false);
      await connect("carol", 1, room, false);
      await until(
        "alice sees bob and carol join",
        () => states(alice, "bob").length > 0 && states(alice, "carol").length > 0,
      );
      const page = await alice.client.presence(room);
      assert.equal(page.total, 3, JSON.stringify(page));
      assert.deepEqual(page.users, ["alice", "bob", "carol"]);
      const first = await bob.client.presence(room, { limit: 2 });
      assert.deepEqual([first.users, first.next], [["alice", "bob"], "bob"]);
      const second = await bob.client.presence(room, { after: first.next as string, limit: 2 });
      assert.deepEqual([second.users, second.next, second.total], [["carol"], undefined, 3]);

      // carol closes one of her two connections (on another gateway than the other): still present.
      carol1.client.close();
      // dave flaps: leaves gateway 0 and is back on gateway 1 within the grace period.
      const dave1 = await connect("dave", 0, room, false);
      await until("alice sees dave join", () => states(alice, "dave").length === 1);
      dave1.client.close();
      await new Promise((r) => setTimeout(r, 500));
      await connect("dave", 1, room, false);
      await new Promise((r) => setTimeout(r, 7000)); // past the 5 s grace
      assert.deepEqual(states(alice, "carol"), ["joined"], "carol never left");
      assert.deepEqual(states(alice, "dave"), ["joined"], "a flap emits no left/joined pair");
      assert.equal((await alice.client.presence(room)).total, 4);
    });

    it("keeps presence while every logic process restarts: the table outlives them", async () => {
      const room = "presence.logic-restart";
      const alice = await connect("alice", 0, room, true);
      await connect("bob", 1, room, false);
      await until("alice sees bob", () => states(alice, "bob").length === 1);
      // One after the other, so the room's events always have a live process,
      // and at the end neither process has seen bob's join happen.
      for (const p of stack.logic) {
        const starts = p.starts();
        process.kill(p.pid() as number, "SIGKILL");
        await until(`${p.spec.name} restarted`, () => p.starts() > starts && p.pid() !== undefined);
        await stack.ready(120_000);
        await new Promise((r) => setTimeout(r, 1500)); // its streams to the gateways open
      }
      const page = await alice.client.presence(room);
      assert.deepEqual([page.total, page.users], [2, ["alice", "bob"]], JSON.stringify(page));
      assert.deepEqual(states(alice, "bob"), ["joined"], "nobody left");
    });

    it("delivers signals to the others, never stores them, and rate-limits them per connection", async () => {
      const room = "presence.signals";
      const alice = await connect("alice", 0, room, false);
      const bob = await connect("bob", 1, room, false);
      await bob.client.send(room, { text: "a real message" });
      bob.client.signal(room, "typing", { on: true });
      await until("alice gets bob's signal", () => alice.signals.length === 1);
      assert.deepEqual(
        { ...alice.signals[0], connection: undefined },
        { type: "signal", room, kind: "typing", from: "bob", connection: undefined, body: { on: true } },
      );
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(bob.signals.length, 0, "the sender's own signal is dropped by its SDK");

      // A burst of 30: the gateway passes the burst (10) and a few refills, refuses the rest.
      for (let i = 0; i < 30; i++) bob.client.signal(room, "typing", { i });
      await until("bob is rate limited", () => bob.errors.some((e) => e.code === "rate_limited"));
      await new Promise((r) => setTimeout(r, 1000));
      const passed = alice.signals.length - 1;
      assert.ok(passed >= 10 && passed < 30, `${passed} of 30 signals passed`);

      // History has the message only.
      const fresh = new ChatClient({
        url: stack.gatewayUrls[0] as string,
        token: await signDevToken(secret, "frank"),
        WebSocket: WebSocket as never,
      });
      clients.push(fresh);
      let history: unknown[] | undefined;
      fresh.on("joined", (j) => {
        history = j.messages;
      });
      fresh.join(room, { since: 0 });
      fresh.connect();
      await until("history page", () => history !== undefined);
      const page = history ?? [];
      assert.equal(page.length, 1, JSON.stringify(page));
      assert.equal((page[0] as MessageFrame).type, "message");
    });

    it("stores read markers and tells the room, or only the user's devices", async () => {
      const room = "presence.reads";
      const alice = await connect("alice", 0, room, false);
      const bob = await connect("bob", 1, room, false);
      bob.client.markRead(room, 7);
      await until("alice is told", () => alice.reads.length === 1);
      assert.deepEqual(alice.reads[0], { type: "read", room, user: "bob", seq: 7 });
      bob.client.markRead(room, 3); // never back
      await until("bob's marker echo", () => bob.reads.length >= 2);
      assert.equal(bob.reads.at(-1)?.seq, 7);
      // bob's phone, on the other gateway and not in the room, is one of bob's devices.
      const phone = await connect("bob", 0, "presence.elsewhere", false);
      bob.client.markRead(room, 9, "self");
      await until("bob's self answer", () => bob.reads.at(-1)?.seq === 9);
      await until("bob's other device is told", () => phone.reads.at(-1)?.seq === 9);
      assert.deepEqual(phone.reads.at(-1), { type: "read", room, user: "bob", seq: 9 });
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(!alice.reads.some((r) => r.seq === 9), "self: nobody else is told");
      assert.deepEqual((await alice.client.readMarkers(room, ["bob", "nobody"])).markers, { bob: 9 });
      assert.deepEqual((await bob.client.readMarkers(room)).markers, { bob: 9 });
    });

    it("SIGKILL of a gateway: its users leave presence within the lease bound", async () => {
      const room = "presence.crash";
      const watcher = await connect("watcher", 1, room, true);
      const victim = await connect("victim", 0, room, false);
      await until("victim present", () => states(watcher, "victim").length === 1);
      assert.equal((await watcher.client.presence(room)).total, 2);
      const gw = stack.gateways[0];
      const pid = gw?.pid();
      assert.ok(pid !== undefined);
      const killedAt = Date.now();
      process.kill(pid, "SIGKILL");
      victim.client.close(); // the user does not come back
      await until("victim left", () => states(watcher, "victim").includes("left"), 30_000);
      const tookMs = Date.now() - killedAt;
      console.log(`# SIGKILL -> left after ${tookMs} ms (bound: 3 x 2 s lease + 1 s sweep)`);
      assert.equal((await watcher.client.presence(room)).total, 1);
      assert.ok(tookMs < 20_000, `took ${tookMs} ms`);
    });
  });
}

stackSuite("sqlite");
stackSuite("nats");
