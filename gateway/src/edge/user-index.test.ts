import assert from "node:assert/strict";
import { test } from "node:test";
import type { Connection } from "./connection.ts";
import { UserIndex } from "./user-index.ts";

test("UserIndex reports a user's first and last local connection", () => {
  const [a, b, c] = [{ id: 1 }, { id: 2 }, { id: 3 }] as unknown as Connection[];
  const u = new UserIndex();
  const seen = (user: string) => {
    const out: Connection[] = [];
    u.forEach(user, (x) => out.push(x));
    return out;
  };
  assert.equal(u.add(a as Connection, "alice"), true, "first connection");
  assert.equal(u.add(a as Connection, "alice"), false, "again: nothing new");
  assert.equal(u.add(b as Connection, "alice"), false);
  assert.equal(u.add(c as Connection, "bob"), true);
  assert.deepEqual(seen("alice"), [a, b]);
  assert.equal(u.remove(c as Connection, "alice"), false, "not alice's");
  assert.equal(u.remove(a as Connection, "alice"), false, "b is still there");
  assert.deepEqual(seen("alice"), [b]);
  assert.equal(u.remove(b as Connection, "alice"), true, "last one");
  assert.equal(u.remove(b as Connection, "alice"), false, "twice: nothing");
  assert.equal(
    u.forEach("alice", () => {}),
    0,
  );
  assert.equal(u.size, 1);
});
