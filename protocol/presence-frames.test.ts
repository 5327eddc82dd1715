import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ROOM_PATTERN } from "./client-frames.ts";
import { parseClientFrame } from "./parse-client-frame.ts";
import {
  encodePresenceChangeFrame,
  encodePresencePageFrame,
  encodeReadEventFrame,
  encodeReadsPageFrame,
  encodeSignalFrame,
  presenceInterestKey,
} from "./presence-frames.ts";

const utf8 = new TextEncoder();
const json = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as unknown;

describe("presence frames", () => {
  it("parses the new client frames", () => {
    const ok = (text: string) => {
      const r = parseClientFrame(text);
      assert.equal(r.kind, "frame", text);
      return r.kind === "frame" ? r.frame : undefined;
    };
    assert.deepEqual(ok('{"type":"join","room":"r","presence":true}'), {
      type: "join",
      room: "r",
      presence: true,
    });
    assert.deepEqual(ok('{"type":"join","room":"r","presence":false}'), { type: "join", room: "r" });
    assert.deepEqual(ok('{"type":"presence","room":"r","after":"bob","limit":5}'), {
      type: "presence",
      room: "r",
      after: "bob",
      limit: 5,
    });
    assert.deepEqual(ok('{"type":"signal","room":"r","kind":"typing","body":{"on":1}}'), {
      type: "signal",
      room: "r",
      kind: "typing",
      body: { on: 1 },
    });
    assert.deepEqual(ok('{"type":"read","room":"r","seq":4}'), {
      type: "read",
      room: "r",
      seq: 4,
      notify: "room",
    });
    assert.deepEqual(ok('{"type":"reads","room":"r","users":["a"]}'), {
      type: "reads",
      room: "r",
      users: ["a"],
    });
  });

  it("rejects bad fields with invalid_field and the room as id", () => {
    for (const text of [
      '{"type":"join","room":"r","presence":"yes"}',
      '{"type":"presence","room":"r","limit":0}',
      '{"type":"presence","room":"r","after":7}',
      '{"type":"signal","room":"r","kind":"no spaces"}',
      '{"type":"signal","room":"r"}',
      '{"type":"read","room":"r","seq":0}',
      '{"type":"read","room":"r","seq":1,"notify":"all"}',
      `{"type":"reads","room":"r","users":${JSON.stringify(Array.from({ length: 101 }, (_, i) => `u${i}`))}}`,
    ]) {
      const r = parseClientFrame(text);
      assert.equal(r.kind, "reject", text);
      if (r.kind === "reject") {
        assert.equal(r.code, "invalid_field", text);
        assert.equal(r.id, "r", text);
      }
    }
    assert.equal(parseClientFrame('{"type":"signal","room":"a#b","kind":"t"}').kind, "reject");
  });

  it("builds server frames that are valid JSON of the documented shapes", () => {
    assert.deepEqual(json(encodePresencePageFrame({ room: "r", total: 3, users: ["a", "b"], next: "b" })), {
      type: "presence",
      room: "r",
      total: 3,
      users: ["a", "b"],
      next: "b",
    });
    assert.deepEqual(json(encodePresenceChangeFrame("r", 'we"ird', "left")), {
      type: "presence_change",
      room: "r",
      user: 'we"ird',
      state: "left",
    });
    const base = { room: "r", kind: "typing", from: "u", connection: "gw/1" };
    assert.deepEqual(json(encodeSignalFrame({ ...base, bodyJson: new Uint8Array(0) })), {
      type: "signal",
      ...base,
    });
    assert.deepEqual(json(encodeSignalFrame({ ...base, bodyJson: utf8.encode('{"x":[1]}') })), {
      type: "signal",
      ...base,
      body: { x: [1] },
    });
    assert.deepEqual(json(encodeReadEventFrame({ room: "r", user: "u", seq: 9 })), {
      type: "read",
      room: "r",
      user: "u",
      seq: 9,
    });
    assert.deepEqual(json(encodeReadsPageFrame("r", new Map([["u", 2]]))), {
      type: "reads",
      room: "r",
      markers: { u: 2 },
    });
  });

  it("uses an interest key no room can have", () => {
    assert.equal(ROOM_PATTERN.test(presenceInterestKey("team.general")), false);
  });
});
