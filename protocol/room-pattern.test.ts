import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { matchesAny, matchRoom, patternProblem } from "./room-pattern.ts";

describe("room patterns", () => {
  const cases: [string, string, boolean][] = [
    ["lobby", "lobby", true],
    ["lobby", "lobby2", false],
    ["lobby", "lob", false],
    ["chat.*", "chat.a", true],
    ["chat.*", "chat.a.b", false],
    ["chat.*", "chat", false],
    ["chat.>", "chat.a", true],
    ["chat.>", "chat.a.b.c", true],
    ["chat.>", "chat", false],
    ["chat.>", "chatter.a", false],
    [">", "anything.at.all", true],
    ["*", "one", true],
    ["*", "one.two", false],
    ["*.b.*", "a.b.c", true],
    ["*.b.*", "a.x.c", false],
    ["dm.alice.*", "dm.alice.bob", true],
    ["dm.alice.*", "dm.alicex.bob", false],
    ["a.b", "a.b.c", false],
    ["a.b.c", "a.b", false],
  ];
  for (const [pattern, room, expected] of cases) {
    it(`${pattern} ${expected ? "matches" : "does not match"} ${room}`, () => {
      assert.equal(matchRoom(pattern, room), expected);
    });
  }

  it("matchesAny tries every pattern", () => {
    assert.equal(matchesAny(["x", "chat.*"], "chat.q"), true);
    assert.equal(matchesAny([], "chat.q"), false);
  });

  it("rejects malformed patterns", () => {
    for (const p of ["", "a..b", ".a", "a.", "a.>.b", "a*", "a.b*", "a b", "x>"]) {
      assert.notEqual(patternProblem(p), undefined, p);
    }
    for (const p of ["a", "a.*", "a.>", ">", "*.*", "user:1.dm@x"])
      assert.equal(patternProblem(p), undefined, p);
  });
});
