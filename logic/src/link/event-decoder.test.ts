import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import * as fc from "fast-check";
import {
  ClientEventBatchSchema,
  ClientEventSchema,
  PrincipalSchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { clientEvent as event } from "../../../protocol/push-stream/testing/arbitrary-frames.ts";
import { decodeClientEventBatch } from "./event-decoder.ts";
import { PrincipalMemo } from "./principal-memo.ts";

test("decodeClientEventBatch equals fromBinary for every kind of event", () => {
  const memo = new PrincipalMemo();
  fc.assert(
    fc.property(fc.array(event, { maxLength: 10 }), (events) => {
      const bytes = toBinary(ClientEventBatchSchema, create(ClientEventBatchSchema, { events }));
      const mine = decodeClientEventBatch(bytes, memo);
      assert.equal(mine.length, events.length);
      // deepEqual, not protobuf equals(): the objects must be identical in shape too.
      assert.deepEqual(mine, events);
    }),
    { numRuns: 400 },
  );
});

test("the events of one principal share one frozen object; other bytes get another", () => {
  const memo = new PrincipalMemo();
  const p = create(PrincipalSchema, { userId: "u", write: [">"], signature: new Uint8Array([1, 2]) });
  const send = (id: bigint, principal = p) =>
    create(ClientEventSchema, {
      eventId: id,
      principal,
      kind: { case: "send", value: { room: "r", clientMsgId: `m${id}`, body: new Uint8Array([1]) } },
    });
  const join = create(ClientEventSchema, {
    eventId: 3n,
    principal: p,
    kind: { case: "join", value: { room: "r" } },
  });
  const other = create(PrincipalSchema, { ...p, signature: new Uint8Array([1, 3]) });
  const batch = (events: ReturnType<typeof send>[]) =>
    decodeClientEventBatch(
      toBinary(ClientEventBatchSchema, create(ClientEventBatchSchema, { events })),
      memo,
    );
  const [a, b, c, d] = batch([send(1n), send(2n), join, send(4n, other)]);
  assert.ok(a?.principal !== undefined && a.principal === b?.principal, "sends of one connection");
  assert.equal(c?.principal, a.principal, "a join of the same connection (the generated decoder's path)");
  assert.notEqual(d?.principal, a.principal, "one byte of the signature differs");
  assert.ok(Object.isFrozen(a.principal) && Object.isFrozen(a.principal.write));
  assert.equal(memo.size, 2);
});

test("the memo is bounded: the least recently used principal goes first", () => {
  const memo = new PrincipalMemo(2);
  const bytes = (user: string) =>
    Buffer.from(toBinary(PrincipalSchema, create(PrincipalSchema, { userId: user })));
  const [a, b, c] = [bytes("a"), bytes("b"), bytes("c")];
  const pa = memo.decode(a, 0, a.length);
  memo.decode(b, 0, b.length);
  assert.equal(memo.decode(a, 0, a.length), pa, "a is used again, b is now the oldest");
  memo.decode(c, 0, c.length);
  assert.equal(memo.size, 2);
  assert.equal(memo.decode(a, 0, a.length), pa, "a stayed");
});

test("a malformed batch throws", () => {
  assert.throws(
    () => decodeClientEventBatch(new Uint8Array([0x0a, 5, 0x08]), new PrincipalMemo()),
    /past the end/,
  );
});
