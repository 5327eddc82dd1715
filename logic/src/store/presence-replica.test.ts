import assert from "node:assert/strict";
import { it } from "node:test";
import fc from "fast-check";
import { PresenceReplica } from "./presence-replica.ts";

it("pages, counts and reports transitions like a sorted set of users per room", () => {
  const op = fc.record({
    online: fc.boolean(),
    room: fc.constantFrom("r1", "r2"),
    user: fc.constantFrom("a", "b", "c", "d", "e", "f", "é", "B", ""),
    owner: fc.constantFrom("g0", "g1", "g2"),
  });
  fc.assert(
    fc.property(
      fc.array(op, { maxLength: 80 }),
      fc.string({ maxLength: 2 }),
      fc.nat(5),
      (ops, after, limit) => {
        const r = new PresenceReplica();
        // room -> user -> owners
        const model = new Map<string, Map<string, Set<string>>>();
        for (const o of ops) {
          const users = model.get(o.room) ?? new Map<string, Set<string>>();
          model.set(o.room, users);
          const owners = users.get(o.user) ?? new Set<string>();
          const before = owners.size;
          const had = owners.has(o.owner);
          if (o.online) owners.add(o.owner);
          else owners.delete(o.owner);
          if (owners.size > 0) users.set(o.user, owners);
          else users.delete(o.user);
          const changed = o.online ? r.add(o.room, o.user, o.owner) : r.remove(o.room, o.user, o.owner);
          assert.equal(changed, o.online ? before === 0 : had && owners.size === 0);
          assert.equal(r.has(o.room, o.user, o.owner), o.online);
        }
        let entries = 0;
        for (const room of ["r1", "r2"]) {
          const users = model.get(room) ?? new Map<string, Set<string>>();
          const sorted = [...users.keys()].filter((u) => u > after).sort();
          assert.deepEqual(r.page(room, after, limit), {
            total: users.size,
            users: sorted.slice(0, limit),
            more: sorted.length > limit,
          });
          for (const owners of users.values()) entries += owners.size;
        }
        assert.equal(r.entries, entries);
        for (const owner of ["g0", "g1", "g2"]) {
          const held = r.entriesOf(owner);
          assert.equal(r.ownerSize(owner), held.length);
          for (const e of held)
            assert.ok(model.get(e.room)?.get(e.user)?.has(owner), `${owner} ${e.room} ${e.user}`);
          let expected = 0;
          for (const users of model.values())
            for (const owners of users.values()) if (owners.has(owner)) expected++;
          assert.equal(held.length, expected);
        }
      },
    ),
  );
});
