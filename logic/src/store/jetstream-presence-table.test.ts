import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createLogger } from "../../../platform/logger.ts";
import { type NatsServer, needsReal, startNats } from "../../../testenv/harness/index.ts";
import { JetStreamPresenceTable } from "./jetstream-presence-table.ts";
import type { PresenceDeparture } from "./presence-table.ts";
import { presenceContract } from "./testing/presence-contract.ts";

// A real nats-server from `make testenv`; startNats throws "run `make testenv`" when it is missing.
let nats: NatsServer;
let k = 0;
const open: JetStreamPresenceTable[] = [];
const none = () => false;
const skip = needsReal("nats-server (make testenv)");
before(async () => {
  if (!skip) nats = await startNats({ name: "presence-table" });
});
after(async () => {
  await Promise.all(open.map((t) => t.close()));
  await nats?.stop();
});

async function table(stream: string, logicId = "l0"): Promise<JetStreamPresenceTable> {
  const t = await JetStreamPresenceTable.open({
    servers: [nats.url],
    stream,
    subjectPrefix: stream.toLowerCase(),
    requestTimeoutMs: 5000,
    replicas: 1,
    connectionName: logicId,
    log: createLogger("logic", "warn"),
  });
  open.push(t);
  return t;
}

presenceContract("nats jetstream", () => table(`CC_PRESENCE_${++k}`), skip);

describe("presence table: nats jetstream, several logic processes", { skip }, () => {
  it("shares one table: a user counts once across processes, each change is announced once", async () => {
    const a = await table("CC_SHARED", "la");
    const b = await table("CC_SHARED", "lb");
    assert.equal(await a.setOnline("r", "alice", "gw0/e1", 0, 60_000), true);
    assert.equal(await b.setOnline("r", "alice", "gw1/e1", 0, 60_000), false, "b sees a's entry");
    assert.deepEqual(await b.page("r", "", 10), { total: 1, users: ["alice"], more: false });
    // Both gateways report alice gone at once, through different processes:
    // exactly one of them sees the last entry go.
    const [x, y] = await Promise.all([
      a.setOffline("r", "alice", "gw0/e1"),
      b.setOffline("r", "alice", "gw1/e1"),
    ]);
    assert.equal(Number(x) + Number(y), 1, `one left, got ${x} and ${y}`);
    assert.equal((await a.page("r", "", 10)).total, 0);
    // Many concurrent joins of distinct users from both processes: one joined each, exact count.
    const joins = await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        (i % 2 ? a : b).setOnline("r2", `u${i % 200}`, i % 2 ? "gw0/e1" : "gw1/e1", 0, 60_000),
      ),
    );
    assert.equal(joins.filter(Boolean).length, 200, "one joined per user");
    assert.equal((await a.page("r2", "", 1)).total, 200);
    assert.equal((await b.page("r2", "", 1)).total, 200);
  });

  it("lets exactly one process sweep an expired owner", async () => {
    const a = await table("CC_SWEEP", "la");
    const b = await table("CC_SWEEP", "lb");
    for (let i = 0; i < 50; i++) await a.setOnline("s", `u${i}`, "gw9/dead", 1000, 1000);
    await b.renew("gw9/dead", 1000, 1000);
    const ga: PresenceDeparture[] = [];
    const gb: PresenceDeparture[] = [];
    const [na, nb] = await Promise.all([
      a.expire(5000, none, (g) => ga.push(...g)),
      b.expire(5000, none, (g) => gb.push(...g)),
    ]);
    assert.equal(na + nb, 50, "every user left once");
    assert.equal(ga.length + gb.length, 50);
    assert.ok(ga.length === 0 || gb.length === 0, "one sweeper");
    assert.equal((await a.page("s", "", 1)).total, 0);
    assert.equal((await b.page("s", "", 1)).total, 0, "b reads after a's sweep");
    assert.equal(await b.entryCount(), 0);
  });

  it("announces a user's departure once when a report and a release race through two processes", async () => {
    const a = await table("CC_DRAIN", "la");
    const b = await table("CC_DRAIN", "lb");
    for (let round = 0; round < 20; round++) {
      const owner = `gw0/e${round}`;
      await a.setOnline("r", "u", owner, Date.now(), 60_000);
      await b.page("r", "", 1); // b has seen it
      const released: PresenceDeparture[] = [];
      const [offline] = await Promise.all([
        a.setOffline("r", "u", owner),
        b.release(owner, (g) => released.push(...g)),
      ]);
      assert.equal(Number(offline) + released.length, 1, `round ${round}: ${offline} and ${released.length}`);
    }
  });

  it("a sweep racing a renewal and fresh reports removes nothing the gateway reported after it", async () => {
    const a = await table("CC_RACE", "la");
    const b = await table("CC_RACE", "lb");
    const owner = "gw5/e1";
    const users = Array.from({ length: 300 }, (_, i) => `u${i}`);
    await Promise.all(users.map((u) => a.setOnline("r", u, owner, 1000, 1000)));
    await b.page("r", "", 1);
    const left: PresenceDeparture[] = [];
    let joined = 0;
    const now = Date.now();
    await Promise.all([
      a.expire(now, none, (g) => left.push(...g)),
      (async () => {
        await b.renew(owner, now, 60_000);
        const again = await Promise.all(users.map((u) => b.setOnline("r", u, owner, now, 60_000)));
        joined = again.filter(Boolean).length;
      })(),
    ]);
    const page = await a.page("r", "", 1);
    assert.equal(
      page.total,
      300,
      `all reported users are present (left ${left.length}, joined again ${joined})`,
    );
    assert.equal(left.length, joined, "every announced departure was followed by a joined");
  });

  it("a process started later loads the current table", async () => {
    const a = await table("CC_LATE", "la");
    await a.setOnline("r", "u1", "gw0/e1", 0, 60_000);
    await a.setOnline("r", "u2", "gw0/e1", 0, 60_000);
    await a.setOffline("r", "u1", "gw0/e1");
    const late = await table("CC_LATE", "lz");
    assert.deepEqual(await late.page("r", "", 10), { total: 1, users: ["u2"], more: false });
    assert.equal(
      await late.setOffline("r", "u2", "gw0/e1"),
      true,
      "the late process announces the last departure",
    );
  });

  it("keeps its table and takes writes again after a NATS restart", async () => {
    const a = await table("CC_RESTART", "la");
    const b = await table("CC_RESTART", "lb");
    assert.equal(await a.setOnline("r", "u1", "gw0/e1", Date.now(), 600_000), true);
    await nats.restart();
    // Writes are refused while the connection is down, then go through again.
    const deadline = Date.now() + 30_000;
    let joined: boolean | undefined;
    while (joined === undefined) {
      try {
        joined = await b.setOnline("r", "u2", "gw1/e1", Date.now(), 600_000);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    assert.equal(joined, true);
    // a's consumer resumes on its own (it may still be recreating it).
    let page = await a.page("r", "", 10);
    while (page.total !== 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      page = await a.page("r", "", 10);
    }
    assert.deepEqual(page, { total: 2, users: ["u1", "u2"], more: false });
    assert.equal(await a.setOffline("r", "u1", "gw0/e1"), true, "a's own writes are answered again");
  });

  // The 100,000-member figures are `make bench-presence`'s; this checks the same queries are exact.
  it("a 10,000-member room's exact count and pages, here and in a process started later", async () => {
    const stream = "CC_BIG";
    const t = await table(stream, "lbig");
    // Fill through raw publishes (what 10k joins write), 1k of the users on a second gateway too.
    const nc = await connect({ servers: [nats.url] });
    const js = jetstream(nc);
    const hex = (s: string) => `x${Buffer.from(s).toString("hex")}`;
    await js.publish(`cc_big.presence.l.${hex("gw0/e1")}`, String(Date.now() + 600_000));
    await js.publish(`cc_big.presence.l.${hex("gw1/e1")}`, String(Date.now() + 600_000));
    for (let i = 0; i < 10_000; i += 1000) {
      const batch: Promise<unknown>[] = [];
      for (let j = i; j < i + 1000; j++) {
        const u = hex(`user-${String(j).padStart(6, "0")}`);
        batch.push(js.publish(`cc_big.presence.e.${hex("big")}.${u}.${hex("gw0/e1")}`, "1"));
        if (j % 10 === 0)
          batch.push(js.publish(`cc_big.presence.e.${hex("big")}.${u}.${hex("gw1/e1")}`, "1"));
      }
      await Promise.all(batch);
    }
    await nc.close();
    // The last write, through the table: when it is answered the replica has everything before it.
    assert.equal(await t.setOnline("big", "zz-last", "gw0/e1", 0, 600_000), true);
    const page = await t.page("big", "", 100);
    assert.equal(page.total, 10_001);
    assert.equal(page.users.length, 100);
    assert.equal(page.users[0], "user-000000");
    assert.equal(page.more, true);
    const later = await t.page("big", "user-005000", 100);
    assert.equal(later.users[0], "user-005001");
    const late = await table(stream, "lbig2");
    assert.equal((await late.page("big", "", 1)).total, 10_001);
  });
});
