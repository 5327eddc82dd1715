import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeResultFrame } from "./call-frames.ts";
import { encodeJoinedFrame } from "./client-frames.ts";
import { parseClientFrame } from "./parse-client-frame.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("call frames", () => {
  it("parses calls with and without params, and rejects bad ids and methods naming the call", () => {
    assert.deepEqual(parseClientFrame('{"type":"call","id":"c1","method":"dice.roll"}'), {
      kind: "frame",
      frame: { type: "call", id: "c1", method: "dice.roll" },
    });
    assert.deepEqual(parseClientFrame('{"type":"call","id":"c2","method":"m","params":{"a":[1]}}'), {
      kind: "frame",
      frame: { type: "call", id: "c2", method: "m", params: { a: [1] } },
    });
    assert.deepEqual(parseClientFrame('{"type":"call","id":"c3","method":"a..b"}'), {
      kind: "reject",
      code: "invalid_field",
      message: "call.method must be dot-separated [A-Za-z0-9_-:@] segments, at most 128 characters",
      id: "c3",
    });
    const noId = parseClientFrame('{"type":"call","method":"m"}');
    assert.equal(noId.kind === "reject" && noId.id, undefined);
    assert.equal(parseClientFrame(`{"type":"call","id":"${"x".repeat(65)}","method":"m"}`).kind, "reject");
  });

  it("result and joined data splice the hook's JSON text as is", () => {
    assert.equal(
      text(encodeResultFrame('a"b', '{"n":1}')),
      '{"type":"result","id":"a\\"b","result":{"n":1}}',
    );
    const joined = text(
      encodeJoinedFrame({ room: "r", lastSeq: 0, complete: true, messages: [], dataJson: '{"t":"x"}' }),
    );
    assert.equal(
      joined,
      '{"type":"joined","room":"r","last_seq":0,"complete":true,"messages":[],"data":{"t":"x"}}',
    );
    assert.deepEqual(JSON.parse(joined).data, { t: "x" });
  });
});
