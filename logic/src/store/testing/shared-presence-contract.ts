import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JetStreamPresenceTable } from "../jetstream-presence-table.ts";
import type { PresenceDeparture } from "../presence-table.ts";

/** Opens a table on `stream` as the logic process `logicId` (a table of its own per call). */
export type OpenSharedTable = (stream: string, logicId?: string) => Promise<JetStreamPresenceTable>;

const none = () => false;

/**
 * What the JetStream presence table must do when several logic processes
 * share one stream: one count, one announcement per change, one sweeper.
 * Each test uses streams of its own, named after `tag`.
 */
export function sharedPresenceContract(
  name: string,
  tag: string,
  table: OpenSharedTable,
  skip: string | false = false,
): void {
  describe(`presence table: ${name}, several logic processes`, { skip }, () => {
    it("shares one table: a user counts once across processes, each change is announced once", async () => {
      const a = await table(`${tag}_SHARED`, "la");
      const b = await table(`${tag}_SHARED`, "lb");
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
      const a = await table(`${tag}_SWEEP`, "la");
      const b = await table(`${tag}_SWEEP`, "lb");
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
      const a = await table(`${tag}_DRAIN`, "la");
      const b = await table(`${tag}_DRAIN`, "lb");
      for (let round = 0; round < 20; round++) {
        const owner = `gw0/e${round}`;
        await a.setOnline("r", "u", owner, Date.now(), 60_000);
        await b.page("r", "", 1); // b has seen it
        const released: PresenceDeparture[] = [];
        const [offline] = await Promise.all([
          a.setOffline("r", "u", owner),
          b.release(owner, (g) => released.push(...g)),
        ]);
        assert.equal(
          Number(offline) + released.length,
          1,
          `round ${round}: ${offline} and ${released.length}`,
        );
      }
    });

    it("a sweep racing a renewal and fresh reports removes nothing the gateway reported after it", async () => {
      const a = await table(`${tag}_RACE`, "la");
      const b = await table(`${tag}_RACE`, "lb");
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
      const a = await table(`${tag}_LATE`, "la");
      await a.setOnline("r", "u1", "gw0/e1", 0, 60_000);
      await a.setOnline("r", "u2", "gw0/e1", 0, 60_000);
      await a.setOffline("r", "u1", "gw0/e1");
      const late = await table(`${tag}_LATE`, "lz");
      assert.deepEqual(await late.page("r", "", 10), { total: 1, users: ["u2"], more: false });
      assert.equal(
        await late.setOffline("r", "u2", "gw0/e1"),
        true,
        "the late process announces the last departure",
      );
    });
  });
}
