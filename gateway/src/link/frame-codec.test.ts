import assert from "node:assert/strict";
import { test } from "node:test";
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as fc from "fast-check";
import {
  DeliveryBatchSchema,
  DeliverySchema,
  GatewayFrameSchema,
  LogicFrameSchema,
  ReplyBatchSchema,
  ReplySchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { reply } from "../../../protocol/push-stream/testing/arbitrary-frames.ts";
import { decodeDeliveryBatch, decodeLogicFrame, decodeReplyBatch, deliveryAckFrame } from "./frame-codec.ts";
import { isLinkError } from "./link-error.ts";

const delivery = fc.record({
  room: fc.string({ unit: "grapheme", maxLength: 40 }),
  seq: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  payload: fc.uint8Array({ maxLength: 2000 }),
  // NaN is left out: protobuf-es equals() compares doubles with ===, so NaN never equals itself.
  acceptedAtMs: fc.oneof(fc.constant(0), fc.double({ noNaN: true })),
});

test("decodeDeliveryBatch equals fromBinary(DeliveryBatch)", () => {
  fc.assert(
    fc.property(
      fc.array(delivery, { maxLength: 30 }),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      (ds, batchSeq) => {
        const bytes = toBinary(
          DeliveryBatchSchema,
          create(DeliveryBatchSchema, { batchSeq, deliveries: ds }),
        );
        const mine = decodeDeliveryBatch(bytes);
        const theirs = fromBinary(DeliveryBatchSchema, bytes);
        assert.equal(mine.batchSeq, theirs.batchSeq);
        assert.equal(mine.deliveries.length, theirs.deliveries.length);
        mine.deliveries.forEach((d, i) => {
          assert.ok(equals(DeliverySchema, d, theirs.deliveries[i] as (typeof theirs.deliveries)[number]));
        });
      },
    ),
    { numRuns: 300 },
  );
});

test("decodeDeliveryBatch decodes a connection command like fromBinary", () => {
  const ds = [
    {
      room: "#user:alice",
      payload: new TextEncoder().encode('{"type":"subscribed"}'),
      command: { tokenId: "j1", kind: { case: "subscribe" as const, value: { room: "r", lastSeq: 9n } } },
    },
    {
      room: "",
      command: {
        gatewayId: "gw-1",
        connectionId: 7,
        kind: { case: "disconnect" as const, value: { closeCode: 4006, reason: "bye" } },
      },
    },
    { room: "lobby", seq: 3n, payload: new Uint8Array([1]) },
  ];
  const bytes = toBinary(DeliveryBatchSchema, create(DeliveryBatchSchema, { batchSeq: 2n, deliveries: ds }));
  const mine = decodeDeliveryBatch(bytes);
  const theirs = fromBinary(DeliveryBatchSchema, bytes);
  mine.deliveries.forEach((d, i) => {
    assert.ok(
      equals(DeliverySchema, d, theirs.deliveries[i] as (typeof theirs.deliveries)[number]),
      `delivery ${i}`,
    );
  });
  assert.equal(mine.deliveries[0]?.command?.kind.case, "subscribe");
  assert.equal(mine.deliveries[2]?.command, undefined);
});

test("decodeDeliveryBatch skips the retired connection_ids field and unknown fields", () => {
  // Delivery{room:"r", field 3 (reserved) unpacked [5, 6] and packed [7], field 9 varint 1, payload:[1]}
  const d = Buffer.from([0x0a, 1, 0x72, 0x18, 5, 0x18, 6, 0x1a, 1, 7, 0x48, 1, 0x22, 1, 1]);
  const batch = Buffer.concat([Buffer.from([0x08, 3, 0x12, d.length]), d, Buffer.from([0x7a, 0])]);
  const out = decodeDeliveryBatch(batch);
  assert.equal(out.batchSeq, 3n);
  assert.equal(out.deliveries[0]?.room, "r");
  assert.deepEqual([...(out.deliveries[0]?.payload ?? [])], [1]);
});

test("malformed DeliveryBatch bytes raise LinkError malformed_frame (INVALID_ARGUMENT)", () => {
  for (const bad of [
    [0x12, 10, 0x0a], // delivery length past the end
    [0x08], // truncated varint
    [0x12, 2, 0x0a, 5], // room length past the delivery
    [0x0b], // group wire type
    [0x12, 1, 0x21], // payload with fixed64 wire type
  ]) {
    assert.throws(
      () => decodeDeliveryBatch(new Uint8Array(bad)),
      (e: unknown) => isLinkError(e) && e.linkCode === "malformed_frame" && e.code === 3,
      `bytes ${bad.join(",")}`,
    );
  }
});

test("decodeLogicFrame dispatches on the oneof and keeps payloads as views", () => {
  const payload = new Uint8Array(100).fill(9);
  const bytes = toBinary(
    LogicFrameSchema,
    create(LogicFrameSchema, {
      kind: { case: "deliveries", value: { batchSeq: 1n, deliveries: [{ room: "a", seq: 2n, payload }] } },
    }),
  );
  const kind = decodeLogicFrame(bytes);
  assert.equal(kind.case, "deliveries");
  if (kind.case !== "deliveries") return;
  assert.equal(kind.deliveries[0]?.room, "a");
  assert.equal(kind.deliveries[0]?.payload.buffer, bytes.buffer);
  const hello = decodeLogicFrame(
    toBinary(
      LogicFrameSchema,
      create(LogicFrameSchema, { kind: { case: "hello", value: { logicId: "l", protocolVersion: 1 } } }),
    ),
  );
  assert.equal(hello.case, "hello");
  assert.throws(
    () => decodeLogicFrame(new Uint8Array([0x12, 9, 1])),
    /malformed_frame: LogicFrame: length past/,
  );
  // Unknown fields of a newer logic are skipped.
  assert.equal(decodeLogicFrame(new Uint8Array([0x30, 1, 0x22, 2, 0x08, 7])).case, "ping");
});

test("deliveryAckFrame serializes like toBinary(GatewayFrame)", () => {
  for (const n of [0n, 1n, 127n, 128n, 300n, 2n ** 40n, 2n ** 64n - 1n]) {
    const env = deliveryAckFrame(n);
    assert.equal(env.readUInt32BE(1), env.length - 5);
    const mine = env.subarray(5);
    const theirs = toBinary(
      GatewayFrameSchema,
      create(GatewayFrameSchema, { kind: { case: "deliveryAck", value: { throughBatchSeq: n } } }),
    );
    assert.deepEqual(Buffer.from(mine), Buffer.from(theirs), `through ${n}`);
  }
});

test("decodeReplyBatch equals fromBinary(ReplyBatch) for every kind of reply", () => {
  fc.assert(
    fc.property(fc.array(reply, { maxLength: 10 }), (replies) => {
      const bytes = toBinary(ReplyBatchSchema, create(ReplyBatchSchema, { replies }));
      assert.deepEqual(decodeReplyBatch(bytes), fromBinary(ReplyBatchSchema, bytes).replies);
    }),
    { numRuns: 400 },
  );
  assert.throws(() => decodeReplyBatch(new Uint8Array([0x0a, 9, 0x08])), isLinkError);
});
