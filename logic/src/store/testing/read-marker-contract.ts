import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MessageStore } from "../message-store.ts";

/** The read-marker part of the MessageStore contract, run by every store's tests. */
export function readMarkerContract(
  name: string,
  open: () => Promise<MessageStore>,
  skip: string | false = false,
): void {
  describe(`read markers: ${name}`, { skip }, () => {
    it("move only forward and come back per user", async () => {
      const s = await open();
      assert.equal(await s.setReadMarker("room.a", "alice", 5), 5);
      assert.equal(await s.setReadMarker("room.a", "alice", 3), 5, "never back");
      assert.equal(await s.setReadMarker("room.a", "alice", 9), 9);
      assert.equal(await s.setReadMarker("room.a", "bob", 2), 2);
      assert.equal(await s.setReadMarker("room.b", "alice", 1), 1);
      const m = await s.getReadMarkers("room.a", ["alice", "bob", "carol"]);
      assert.deepEqual([...m.entries()].sort(), [
        ["alice", 9],
        ["bob", 2],
      ]);
      assert.deepEqual([...(await s.getReadMarkers("room.c", ["alice"])).entries()], []);
      await s.close();
    });
  });
}
