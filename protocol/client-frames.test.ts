import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  encodeAckFrame,
  encodeErrorFrame,
  encodeJoinedFrame,
  encodeMessageFrame,
  encodePongFrame,
  encodeReconnectFrame,
  encodeWelcomeFrame,
  isRetryableError,
} from "./client-frames.ts";
import { CLOSE_CODE_NAMES, CLOSE_CODES, closeCodeByNumber, closeCodeName } from "./close-codes.ts";
import { parseClientFrame } from "./parse-client-frame.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("server frame builders", () => {
  it("message: body bytes are copied verbatim, the frame is valid JSON with the documented field order", () => {
    const body = new TextEncoder().encode('{"text":"h\\u00e9 \\"q\\"","n":[1,2]}');
    const f = text(
      encodeMessageFrame({ room: "a.b", seq: 7n, prev: 6n, id: 'x"y', from: "alice", ts: 5, bodyJson: body }),
    );
    assert.equal(
      f,
      '{"type":"message","room":"a.b","seq":7,"prev":6,"id":"x\\"y","from":"alice","ts":5,"body":{"text":"h\\u00e9 \\"q\\"","n":[1,2]}}',
    );
    assert.deepEqual(JSON.parse(f).body, { text: 'hé "q"', n: [1, 2] });
  });

  it("joined embeds stored message frames byte for byte", () => {
    const m1 = encodeMessageFrame({ room: "r", seq: 1, prev: 0, id: "a", from: "u", ts: 1, bodyJson: "1" });
    const m2 = encodeMessageFrame({
      room: "r",
      seq: 2,
      prev: 1,
      id: "b",
      from: "u",
      ts: 2,
      bodyJson: '"two"',
    });
    const j = JSON.parse(
      text(encodeJoinedFrame({ room: "r", lastSeq: 2, complete: false, messages: [m1, m2] })),
    );
    assert.deepEqual(j, {
      type: "joined",
      room: "r",
      last_seq: 2,
      complete: false,
      messages: [JSON.parse(text(m1)), JSON.parse(text(m2))],
    });
    assert.deepEqual(
      JSON.parse(text(encodeJoinedFrame({ room: "r", lastSeq: 0, complete: true, messages: [] }))).messages,
      [],
    );
  });

  it("ack, error, welcome, pong, reconnect", () => {
    assert.deepEqual(JSON.parse(text(encodeAckFrame({ id: "i", room: "r", seq: 3n }))), {
      type: "ack",
      id: "i",
      room: "r",
      seq: 3,
    });
    assert.deepEqual(JSON.parse(text(encodeErrorFrame({ code: "forbidden", message: "no", id: "i" }))), {
      type: "error",
      code: "forbidden",
      message: "no",
      id: "i",
    });
    assert.equal(
      JSON.parse(text(encodeErrorFrame({ code: "rate_limited", message: "m", retryAfterMs: 1.2 })))
        .retry_after_ms,
      2,
    );
    const w = JSON.parse(
      text(
        encodeWelcomeFrame({
          user: "u",
          connection_id: "g/1",
          heartbeat_ms: 1,
          limits: { max_frame_bytes: 1, messages_per_second: 1, message_burst: 1, max_rooms: 1 },
        }),
      ),
    );
    assert.equal(w.type, "welcome");
    assert.deepEqual(JSON.parse(text(encodePongFrame(9))), { type: "pong", ts: 9 });
    assert.deepEqual(JSON.parse(text(encodePongFrame(undefined))), { type: "pong" });
    assert.deepEqual(JSON.parse(text(encodeReconnectFrame(12.6))), { type: "reconnect", after_ms: 13 });
  });

  it("message frames are valid JSON for any strings and any JSON body", () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.string(),
        fc.jsonValue(),
        fc.nat(),
        (room, id, from, body, seq) => {
          const f = encodeMessageFrame({
            room,
            seq,
            prev: seq,
            id,
            from,
            ts: 1,
            bodyJson: JSON.stringify(body),
          });
          const o = JSON.parse(text(f));
          assert.equal(o.room, room);
          assert.equal(o.id, id);
          assert.equal(o.from, from);
          assert.deepEqual(o.body, JSON.parse(JSON.stringify(body)));
        },
      ),
    );
  });
});

describe("parseClientFrame", () => {
  it("accepts every client frame", () => {
    assert.deepEqual(parseClientFrame('{"type":"auth","token":"t"}'), {
      kind: "frame",
      frame: { type: "auth", token: "t" },
    });
    assert.deepEqual(parseClientFrame('{"type":"join","room":"a.b","since":3,"limit":10}'), {
      kind: "frame",
      frame: { type: "join", room: "a.b", since: 3, limit: 10 },
    });
    assert.deepEqual(parseClientFrame('{"type":"leave","room":"a"}'), {
      kind: "frame",
      frame: { type: "leave", room: "a" },
    });
    assert.deepEqual(parseClientFrame('{"type":"send","room":"a","id":"1","body":null}'), {
      kind: "frame",
      frame: { type: "send", room: "a", id: "1", body: null },
    });
    assert.deepEqual(parseClientFrame('{"type":"ping"}'), { kind: "frame", frame: { type: "ping" } });
  });

  it("classifies bad input: malformed closes, the rest is rejected with a code", () => {
    assert.equal(parseClientFrame("{").kind, "malformed");
    assert.equal(parseClientFrame("42").kind, "malformed");
    assert.equal(parseClientFrame("[]").kind, "malformed");
    assert.equal(parseClientFrame("null").kind, "malformed");
    const cases: [string, string][] = [
      ['{"type":"nope"}', "unknown_type"],
      ['{"room":"a"}', "unknown_type"],
      ['{"type":"auth"}', "invalid_field"],
      ['{"type":"join","room":""}', "invalid_field"],
      ['{"type":"join","room":"a..b"}', "invalid_field"],
      ['{"type":"join","room":"a.*"}', "invalid_field"],
      ['{"type":"join","room":"a","since":1.5}', "invalid_field"],
      ['{"type":"join","room":"a","limit":0}', "invalid_field"],
      ['{"type":"send","room":"a","id":"","body":1}', "invalid_field"],
      [`{"type":"send","room":"a","id":"${"x".repeat(65)}","body":1}`, "invalid_field"],
      ['{"type":"ping","ts":"x"}', "invalid_field"],
    ];
    for (const [input, code] of cases) {
      const r = parseClientFrame(input);
      assert.equal(r.kind, "reject", input);
      assert.equal(r.kind === "reject" && r.code, code, input);
    }
  });

  it("never throws, whatever the text", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ type: "send", ...Object(v) })),
        ),
        (s) => {
          parseClientFrame(s);
        },
      ),
    );
  });
});

describe("close codes", () => {
  it("are unique, in range, and named", () => {
    const all = Object.values(CLOSE_CODES);
    assert.equal(new Set(all.map((c) => c.code)).size, all.length);
    assert.equal(new Set(all.map((c) => c.name)).size, all.length);
    for (const c of all) assert.ok((c.code >= 4000 && c.code < 5000) || (c.code >= 1000 && c.code < 1016));
    assert.equal(closeCodeName(4009), "slow_consumer");
    assert.equal(closeCodeName(4999), "other");
    assert.equal(closeCodeByNumber(4012)?.reconnect, "backoff");
    assert.ok(CLOSE_CODE_NAMES.includes("other"));
    assert.ok(Object.isFrozen(CLOSE_CODES) && Object.isFrozen(CLOSE_CODES.draining));
    assert.equal(isRetryableError("unavailable"), true);
    assert.equal(isRetryableError("forbidden"), false);
  });
});
