import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as fc from "fast-check";
import {
  DeliverySchema,
  GatewayFrameSchema,
  LogicFrameSchema,
  type Reply,
  ReplySchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { reply } from "../../../protocol/push-stream/testing/arbitrary-frames.ts";
import {
  batchFrame,
  decodeGatewayFrame,
  encodeDelivery,
  encodeReply,
  FIELD_DELIVERIES,
  FIELD_REPLIES,
} from "./frame-codec.ts";

/** The LogicFrame inside a gRPC envelope, checking the envelope. */
function unwrap(env: Uint8Array): Uint8Array {
  assert.equal(env[0], 0, "uncompressed");
  assert.equal(Buffer.from(env).readUInt32BE(1), env.byteLength - 5);
  return new Uint8Array(env.buffer, env.byteOffset + 5, env.byteLength - 5);
}

const delivery = fc.record({
  room: fc.string({ unit: "grapheme", maxLength: 40 }),
  seq: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  payload: fc.uint8Array({ maxLength: 3000 }),
  acceptedAtMs: fc.oneof(fc.constant(0), fc.double()),
});

test("encodeDelivery produces the bytes of toBinary(Delivery)", () => {
  fc.assert(
    fc.property(delivery, (d) => {
      const e = encodeDelivery(d.room, d.seq, d.payload, d.acceptedAtMs);
      const mine = Buffer.concat([e.head, e.tail, e.trail]);
      assert.equal(e.size, mine.length);
      const theirs = toBinary(DeliverySchema, create(DeliverySchema, d));
      assert.deepEqual(Buffer.from(mine), Buffer.from(theirs));
    }),
    { numRuns: 500 },
  );
});

test("a delivery batch frame serializes exactly like toBinary(LogicFrame)", () => {
  fc.assert(
    fc.property(
      fc.array(delivery, { maxLength: 40 }),
      fc.integer({ min: 1, max: 2 ** 40 }),
      (ds, batchSeq) => {
        const entries = ds.map((d) => encodeDelivery(d.room, d.seq, d.payload, d.acceptedAtMs));
        const size = entries.reduce((n, e) => n + e.wireSize, 0);
        const raw = batchFrame(FIELD_DELIVERIES, batchSeq, entries, 0, entries.length, size);
        const mine = unwrap(raw);
        const theirs = toBinary(
          LogicFrameSchema,
          create(LogicFrameSchema, {
            kind: { case: "deliveries", value: { batchSeq: BigInt(batchSeq), deliveries: ds } },
          }),
        );
        assert.deepEqual(Buffer.from(mine), Buffer.from(theirs));
      },
    ),
    { numRuns: 200 },
  );
});

test("a reply batch frame decodes to the replies it was built from", () => {
  const replies: Reply[] = [
    create(ReplySchema, {
      eventId: 1n,
      connectionId: 7,
      kind: { case: "frame", value: new Uint8Array([1, 2]) },
    }),
    create(ReplySchema, { eventId: 2n, connectionId: 8, kind: { case: "done", value: {} } }),
    create(ReplySchema, {
      eventId: 300n,
      connectionId: 9,
      kind: { case: "auth", value: { ok: true, principal: { userId: "u", read: ["a.*"] } } },
    }),
  ];
  const entries = replies.map(encodeReply);
  const size = entries.reduce((n, e) => n + e.wireSize, 0);
  const bytes = unwrap(batchFrame(FIELD_REPLIES, 0, entries, 0, entries.length, size));
  const frame = fromBinary(LogicFrameSchema, bytes);
  assert.equal(frame.kind.case, "replies");
  assert.deepEqual(frame.kind.value?.replies, replies);
  assert.deepEqual(
    Buffer.from(bytes),
    Buffer.from(
      toBinary(LogicFrameSchema, create(LogicFrameSchema, { kind: { case: "replies", value: { replies } } })),
    ),
  );
});

test("encodeDelivery rejects a seq outside uint64", () => {
  assert.throws(() => encodeDelivery("r", -1n, new Uint8Array(1)), RangeError);
  assert.throws(() => encodeDelivery("r", 1n << 64n, new Uint8Array(1)), RangeError);
});

test("decodeGatewayFrame equals fromBinary(GatewayFrame) and skips unknown fields", () => {
  const frames = [
    create(GatewayFrameSchema, { kind: { case: "deliveryAck", value: { throughBatchSeq: 1n << 40n } } }),
    create(GatewayFrameSchema, {
      kind: { case: "hello", value: { gatewayId: "g", epoch: "e", protocolVersion: 1 } },
    }),
    create(GatewayFrameSchema, {
      kind: { case: "interestSnapshot", value: { rooms: ["a", "b"], version: 3n } },
    }),
    create(GatewayFrameSchema, { kind: { case: "pong", value: { nonce: 9n } } }),
  ];
  for (const f of frames) {
    const bytes = toBinary(GatewayFrameSchema, f);
    assert.deepEqual(decodeGatewayFrame(bytes), fromBinary(GatewayFrameSchema, bytes).kind);
    // A newer gateway's extra fields: a varint (field 90) and a fixed64 (field 91).
    const extended = Buffer.concat([Buffer.from([0xd0, 0x05, 0x2a, 0xd9, 0x05]), Buffer.alloc(8), bytes]);
    assert.deepEqual(decodeGatewayFrame(extended), fromBinary(GatewayFrameSchema, bytes).kind);
  }
  assert.throws(() => decodeGatewayFrame(new Uint8Array([0x2a, 5, 1])), /past the end/);
});

test("encodeReply produces toBinary's bytes for frame and done replies (written by hand) and the others", () => {
  fc.assert(
    fc.property(reply, (r) => {
      const e = encodeReply(r);
      const bytes = Buffer.concat([e.head, e.tail, e.trail]);
      assert.deepEqual(bytes, Buffer.from(toBinary(ReplySchema, r)));
      assert.equal(e.size, bytes.byteLength);
    }),
    { numRuns: 500 },
  );
});
