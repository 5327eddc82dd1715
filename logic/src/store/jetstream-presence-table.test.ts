import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createLogger } from "../../../platform/logger.ts";
import { type NatsServer, needsReal, startNats } from "../../../testenv/harness/index.ts";
import { JetStreamPresenceTable } from "./jetstream-presence-table.ts";
import { eventually, until } from "./testing/eventually.ts";
import { presenceContract } from "./testing/presence-contract.ts";
import { sharedPresenceContract } from "./testing/shared-presence-contract.ts";

// A real nats-server from `make testenv`; startNats throws "run `make testenv`" when it is missing.
let nats: NatsServer;
let k = 0;
const open: JetStreamPresenceTable[] = [];
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

sharedPresenceContract("nats jetstream", "CC", table, skip);

describe("presence table: nats jetstream, one server", { skip }, () => {
  it("keeps its table and takes writes again after a NATS restart", async () => {
    const a = await table("CC_RESTART", "la");
    const b = await table("CC_RESTART", "lb");
    assert.equal(await a.setOnline("r", "u1", "gw0/e1", Date.now(), 600_000), true);
    await nats.restart();
    // Writes are refused while the connection is down, then go through again.
    assert.equal(await eventually(() => b.setOnline("r", "u2", "gw1/e1", Date.now(), 600_000)), true);
    // a's consumer resumes on its own (it may still be recreating it).
    await until("a's replica to see u2", async () => (await a.page("r", "", 10)).total === 2);
    assert.deepEqual(await a.page("r", "", 10), { total: 2, users: ["u1", "u2"], more: false });
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
