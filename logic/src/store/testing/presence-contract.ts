import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PresenceDeparture, PresenceTable } from "../presence-table.ts";

/** What every PresenceTable must do; each test opens a table of its own. */
export function presenceContract(
  name: string,
  open: () => PresenceTable | Promise<PresenceTable>,
  skip: string | false = false,
): void {
  describe(`presence table: ${name}`, { skip }, () => {
    it("counts a user once across owners and reports only first arrivals and last departures", async () => {
      const t = await open();
      assert.equal(await t.setOnline("r", "alice", "gw0/e1", 0, 1000), true);
      assert.equal(await t.setOnline("r", "alice", "gw1/e1", 0, 1000), false, "second gateway: no joined");
      assert.equal(await t.setOnline("r", "alice", "gw1/e1", 0, 1000), false, "a resent event is idempotent");
      assert.equal(await t.setOnline("r", "bob", "gw1/e1", 0, 1000), true);
      assert.equal(await t.entryCount(), 3, "entries are (room, user, owner)");
      assert.deepEqual(await t.page("r", "", 10), { total: 2, users: ["alice", "bob"], more: false });
      assert.equal(await t.setOffline("r", "alice", "gw0/e1"), false, "still on gw1");
      assert.equal(await t.setOffline("r", "alice", "gw0/e1"), false, "unknown entry: nothing");
      assert.equal(await t.setOffline("r", "alice", "gw1/e1"), true, "last entry: left");
      assert.deepEqual(await t.page("r", "", 10), { total: 1, users: ["bob"], more: false });
      await t.close();
    });

    it("pages in user order with an exact total", async () => {
      const t = await open();
      for (const u of ["d", "a", "c", "b", "e"]) await t.setOnline("p", u, "gw0/e1", 0, 1000);
      assert.deepEqual(await t.page("p", "", 2), { total: 5, users: ["a", "b"], more: true });
      assert.deepEqual(await t.page("p", "b", 2), { total: 5, users: ["c", "d"], more: true });
      assert.deepEqual(await t.page("p", "d", 2), { total: 5, users: ["e"], more: false });
      assert.deepEqual(await t.page("empty", "", 2), { total: 0, users: [], more: false });
      await t.close();
    });

    it("pages the rooms with users online, each counting distinct users", async () => {
      const t = await open();
      await t.setOnline("b.room", "u1", "gw0/e1", 0, 1000);
      await t.setOnline("b.room", "u1", "gw1/e1", 0, 1000);
      await t.setOnline("b.room", "u2", "gw0/e1", 0, 1000);
      await t.setOnline("a.room", "u1", "gw0/e1", 0, 1000);
      await t.setOnline("c.room", "u3", "gw1/e1", 0, 1000);
      assert.deepEqual(await t.rooms("", 2), {
        total: 3,
        rooms: [
          { room: "a.room", users: 1 },
          { room: "b.room", users: 2 },
        ],
        more: true,
      });
      assert.deepEqual(await t.rooms("b.room", 2), {
        total: 3,
        rooms: [{ room: "c.room", users: 1 }],
        more: false,
      });
      await t.setOffline("c.room", "u3", "gw1/e1");
      assert.equal((await t.rooms("", 10)).total, 2, "a room without users is not active");
      await t.close();
    });

    it("expires an owner whose lease ran out and releases an owner that ended", async () => {
      const t = await open();
      await t.setOnline("x", "u1", "gw0/old", 1000, 5000);
      await t.setOnline("x", "u2", "gw0/old", 1000, 5000);
      await t.setOnline("x", "u2", "gw1/e1", 1000, 5000);
      await t.setOnline("y", "u3", "gw1/e1", 1000, 5000);
      await t.renew("gw1/e1", 1000, 60_000);
      const none = () => false;
      const gone: PresenceDeparture[] = [];
      const sink = (g: readonly PresenceDeparture[]) => gone.push(...g);
      assert.equal(await t.expire(5999, none, sink), 0);
      assert.equal(
        await t.expire(6000, (owner) => owner === "gw0/old", sink),
        0,
        "a live gateway is not expired",
      );
      assert.equal(await t.expire(6000, none, sink), 1);
      assert.deepEqual(gone, [{ room: "x", user: "u1" }], "u2 is still on gw1");
      assert.deepEqual(await t.page("x", "", 10), { total: 1, users: ["u2"], more: false });
      gone.length = 0;
      assert.equal(await t.release("gw1/e1", sink), 2);
      assert.deepEqual(
        gone.sort((a, b) => a.user.localeCompare(b.user)),
        [
          { room: "x", user: "u2" },
          { room: "y", user: "u3" },
        ],
      );
      assert.equal((await t.page("x", "", 10)).total, 0);
      await t.close();
    });
  });
}
