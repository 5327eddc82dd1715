import assert from "node:assert/strict";
import { it } from "node:test";
import fc from "fast-check";
import { PresenceReplica } from "./presence-replica.ts";

it("pages, counts and reports transitions like a sorted set of users per room", () => {
  const op = fc.record({
    online: fc.boolean(),
    user: fc.constantFrom("a", "b", "c", "d", "e", "f", "é", "B", ""),
    owner: fc.constantFrom("g0", "g1", "g2"),
  });
  fc.assert(
    fc.property(
      fc.array(op, { maxLength: 60 }),
      fc.string({ maxLength: 2 }),
      fc.nat(5),
      (ops, after, limit) => {
        const r = new PresenceReplica();
        const model = new Map<string, Set<string>>();
        for (const o of ops) {
          const owners = model.get(o.user) ?? new Set<string>();
          const before = owners.size;
          const had = owners.has(o.owner);
          if (o.online) owners.add(o.owner);
          else owners.delete(o.owner);
          if (owners.size > 0) model.set(o.user, owners);
          else model.delete(o.user);
          const changed = o.online ? r.add("room", o.user, o.owner) : r.remove("room", o.user, o.owner);
          assert.equal(changed, o.online ? before === 0 : had && owners.size === 0);
          assert.equal(r.has("room", o.user, o.owner), o.online);
        }
        const sorted = [...model.keys()].filter((u) => u > after).sort();
        assert.deepEqual(r.page("room", after, limit), {
          total: model.size,
          users: sorted.slice(0, limit),
          more: sorted.length > limit,
        });
        let entries = 0;
        for (const owners of model.values()) entries += owners.size;
        assert.equal(r.entries, entries);
        for (const owner of ["g0", "g1", "g2"])
          for (const e of r.entriesOf(owner)) assert.ok(model.get(e.user)?.has(owner));
      },
    ),
  );
});
