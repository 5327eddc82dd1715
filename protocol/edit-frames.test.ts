import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeMessageFrame } from "./client-frames.ts";
import { parseClientFrame } from "./parse-client-frame.ts";

describe("edit and delete frames", () => {
  it("parse with room, id, target (and body for an edit); errors name the id", () => {
    assert.deepEqual(parseClientFrame('{"type":"edit","room":"r","id":"e1","target":4,"body":{"t":1}}'), {
      kind: "frame",
      frame: { type: "edit", room: "r", id: "e1", target: 4, body: { t: 1 } },
    });
    assert.deepEqual(parseClientFrame('{"type":"delete","room":"r","id":"d1","target":4}'), {
      kind: "frame",
      frame: { type: "delete", room: "r", id: "d1", target: 4 },
    });
    for (const [text, id] of [
      ['{"type":"edit","room":"r","id":"e2","target":0,"body":1}', "e2"],
      ['{"type":"edit","room":"r","id":"e3","target":1.5,"body":1}', "e3"],
      ['{"type":"edit","room":"r","id":"e4","target":1}', "e4"],
      ['{"type":"delete","room":"bad room","id":"d2","target":1}', "d2"],
      ['{"type":"delete","room":"r","target":1}', "r"],
    ] as const) {
      const r = parseClientFrame(text);
      assert.equal(r.kind, "reject", text);
      assert.equal(r.kind === "reject" && r.id, id, text);
    }
  });

  it("edit and delete events are message frames with kind and target before the body", () => {
    const frame = new TextDecoder().decode(
      encodeMessageFrame({
        room: "r",
        seq: 9,
        prev: 8,
        id: "e",
        from: "u",
        ts: 1,
        kind: "edit",
        target: 3,
        bodyJson: '"x"',
      }),
    );
    assert.equal(
      frame,
      '{"type":"message","room":"r","seq":9,"prev":8,"id":"e","from":"u","ts":1,"kind":"edit","target":3,"body":"x"}',
    );
    assert.equal(JSON.parse(frame).target, 3);
  });
});
