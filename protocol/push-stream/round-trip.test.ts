// Every frame type, generated, through both ends' codecs: what logic encodes
// the gateway decodes to the same message, and the other way round, split
// into chunks at arbitrary points on the way like HTTP/2 DATA frames.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, equals, type MessageInitShape } from "@bufbuild/protobuf";
import * as fc from "fast-check";
import {
  decodeLogicFrame,
  deliveryAckFrame,
  gatewayFrameEnvelope,
} from "../../gateway/src/link/frame-codec.ts";
import {
  type Delivery,
  DeliverySchema,
  GatewayFrameSchema,
  LogicFrameSchema,
  type Reply,
  ReplySchema,
} from "../../gen/chatcluster/v1/gateway_stream_pb.js";
import {
  batchFrame,
  decodeGatewayFrame,
  encodeDelivery,
  encodeReply,
  FIELD_DELIVERIES,
  FIELD_REPLIES,
  logicFrameEnvelope,
} from "../../logic/src/link/frame-codec.ts";
import { EnvelopeReader } from "./envelope.ts";

const U64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const U32 = fc.nat({ max: 0xffff_ffff });
const text = fc.string({ unit: "grapheme", maxLength: 24 });
const bytes = fc.uint8Array({ maxLength: 300 });

/** One enveloped frame through an EnvelopeReader fed in chunks cut at `cuts`; returns the message. */
function transmit(frame: Uint8Array, cuts: number[]): Uint8Array {
  const got: Uint8Array[] = [];
  const reader = new EnvelopeReader(16 * 1024 * 1024, (m) => got.push(Buffer.from(m)));
  let pos = 0;
  for (const c of [...cuts, frame.byteLength]) {
    const end = Math.min(frame.byteLength, pos + c);
    reader.push(Buffer.from(frame.buffer, frame.byteOffset + pos, end - pos));
    pos = end;
  }
  assert.equal(got.length, 1);
  assert.equal(reader.midMessage, false);
  return got[0] as Uint8Array;
}
const cuts = fc.array(fc.nat({ max: 64 }), { maxLength: 6 });

const principal = fc.record({
  userId: text,
  read: fc.array(text, { maxLength: 3 }),
  write: fc.array(text, { maxLength: 3 }),
  expiresAtMs: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
  signature: fc.uint8Array({ maxLength: 32 }),
});

const delivery = fc.record({
  room: text,
  seq: U64,
  payload: bytes,
  acceptedAtMs: fc.oneof(fc.constant(0), fc.double({ noNaN: true })),
});

type ReplyInit = MessageInitShape<typeof ReplySchema>;
const replyKind: fc.Arbitrary<ReplyInit["kind"]> = fc.oneof(
  fc.record({
    case: fc.constant("auth" as const),
    value: fc.record({
      ok: fc.boolean(),
      principal: fc.option(principal, { nil: undefined }),
      errorCode: text,
      errorMessage: text,
      closeCode: U32,
    }),
  }),
  fc.record({
    case: fc.constant("join" as const),
    value: fc.record({ ok: fc.boolean(), room: text, lastSeq: U64, frame: bytes }),
  }),
  fc.record({ case: fc.constant("frame" as const), value: bytes }),
  fc.record({ case: fc.constant("close" as const), value: fc.record({ closeCode: U32, reason: text }) }),
  fc.record({ case: fc.constant("done" as const), value: fc.constant({}) }),
);
const reply = fc.record({ eventId: U64, connectionId: U32, gatewayEpoch: text, kind: replyKind });

type EventInit = MessageInitShape<typeof GatewayFrameSchema>;
const eventKind = fc.oneof(
  fc.record({
    case: fc.constant("auth" as const),
    value: fc.record({ token: text, refresh: fc.boolean(), remoteAddress: text }),
  }),
  fc.record({
    case: fc.constant("send" as const),
    value: fc.record({ room: text, clientMsgId: text, body: bytes }),
  }),
  fc.record({
    case: fc.constant("join" as const),
    value: fc.record({ room: text, since: fc.option(U64, { nil: undefined }), limit: U32 }),
  }),
  fc.record({ case: fc.constant("leave" as const), value: fc.record({ room: text }) }),
  fc.record({ case: fc.constant("closed" as const), value: fc.record({ closeCode: U32 }) }),
  fc.record({
    case: fc.constant("signal" as const),
    value: fc.record({ room: text, signalKind: text, body: bytes, connection: text }),
  }),
  fc.record({
    case: fc.constant("presenceChange" as const),
    value: fc.record({ room: text, userId: text, online: fc.boolean() }),
  }),
  fc.record({
    case: fc.constant("presenceLease" as const),
    value: fc.record({ ttlMs: U32, release: fc.boolean() }),
  }),
  fc.record({
    case: fc.constant("presenceQuery" as const),
    value: fc.record({ room: text, after: text, limit: U32 }),
  }),
  fc.record({
    case: fc.constant("readMarker" as const),
    value: fc.record({ room: text, seq: U64, notify: text, users: fc.array(text, { maxLength: 3 }) }),
  }),
);
const event = fc.record({
  eventId: U64,
  connectionId: U32,
  principal: fc.option(principal, { nil: undefined }),
  kind: eventKind,
});

/** Every GatewayFrame kind the gateway sends, built with the gateway's own encoders. */
const gatewayFrame: fc.Arbitrary<EventInit["kind"]> = fc.oneof(
  fc.record({
    case: fc.constant("hello" as const),
    value: fc.record({ gatewayId: text, epoch: text, protocolVersion: U32, draining: fc.boolean() }),
  }),
  fc.record({
    case: fc.constant("interestSnapshot" as const),
    value: fc.record({ rooms: fc.array(text, { maxLength: 5 }), version: U64 }),
  }),
  fc.record({
    case: fc.constant("interestDelta" as const),
    value: fc.record({
      added: fc.array(text, { maxLength: 4 }),
      removed: fc.array(text, { maxLength: 4 }),
      version: U64,
    }),
  }),
  fc.record({
    case: fc.constant("events" as const),
    value: fc.record({ events: fc.array(event, { maxLength: 6 }) }),
  }),
  fc.record({ case: fc.constant("deliveryAck" as const), value: fc.record({ throughBatchSeq: U64 }) }),
  fc.record({ case: fc.constant("ping" as const), value: fc.record({ nonce: U64 }) }),
  fc.record({ case: fc.constant("pong" as const), value: fc.record({ nonce: U64 }) }),
);

test("every GatewayFrame the gateway encodes, logic decodes to the same message", () => {
  fc.assert(
    fc.property(gatewayFrame, cuts, (kind, at) => {
      const sent = create(GatewayFrameSchema, { kind });
      const env =
        kind?.case === "deliveryAck"
          ? deliveryAckFrame(sent.kind.case === "deliveryAck" ? sent.kind.value.throughBatchSeq : 0n)
          : gatewayFrameEnvelope(sent);
      const got = create(GatewayFrameSchema, { kind: decodeGatewayFrame(transmit(env, at)) });
      assert.ok(equals(GatewayFrameSchema, got, sent), `${kind?.case} differs`);
    }),
    { numRuns: 400 },
  );
});

test("every LogicFrame logic encodes, the gateway decodes to the same message", () => {
  const small = fc.oneof(
    fc.record({
      case: fc.constant("hello" as const),
      value: fc.record({ logicId: text, epoch: text, protocolVersion: U32 }),
    }),
    fc.record({ case: fc.constant("ping" as const), value: fc.record({ nonce: U64 }) }),
    fc.record({ case: fc.constant("pong" as const), value: fc.record({ nonce: U64 }) }),
  );
  const frame = fc.oneof(
    fc.record({ case: fc.constant("small" as const), kind: small }),
    fc.record({
      case: fc.constant("deliveries" as const),
      batchSeq: fc.integer({ min: 1, max: 2 ** 53 - 1 }),
      deliveries: fc.array(delivery, { maxLength: 12 }),
    }),
    fc.record({ case: fc.constant("replies" as const), replies: fc.array(reply, { maxLength: 12 }) }),
  );
  fc.assert(
    fc.property(frame, cuts, (f, at) => {
      if (f.case === "small") {
        const sent = create(LogicFrameSchema, { kind: f.kind });
        const got = decodeLogicFrame(transmit(logicFrameEnvelope(sent), at));
        assert.ok(got.case !== "deliveries");
        assert.ok(equals(LogicFrameSchema, create(LogicFrameSchema, { kind: got }), sent), f.kind.case);
        return;
      }
      if (f.case === "deliveries") {
        const sent: Delivery[] = f.deliveries.map((d) => create(DeliverySchema, d));
        const entries = sent.map((d) => encodeDelivery(d.room, d.seq, d.payload, d.acceptedAtMs));
        const size = entries.reduce((n, e) => n + e.wireSize, 0);
        const env = batchFrame(FIELD_DELIVERIES, f.batchSeq, entries, 0, entries.length, size);
        const got = decodeLogicFrame(transmit(env, at));
        assert.equal(got.case, "deliveries");
        if (got.case !== "deliveries") return;
        assert.equal(got.batchSeq, BigInt(f.batchSeq));
        assert.equal(got.deliveries.length, sent.length);
        got.deliveries.forEach((d, i) => {
          assert.ok(equals(DeliverySchema, d, sent[i] as Delivery), `delivery ${i}`);
        });
        return;
      }
      const sent: Reply[] = f.replies.map((r) => create(ReplySchema, r));
      const entries = sent.map(encodeReply);
      const size = entries.reduce((n, e) => n + e.wireSize, 0);
      const got = decodeLogicFrame(
        transmit(batchFrame(FIELD_REPLIES, 0, entries, 0, entries.length, size), at),
      );
      assert.equal(got.case, "replies");
      if (got.case !== "replies") return;
      assert.equal(got.value.replies.length, sent.length);
      got.value.replies.forEach((r, i) => {
        assert.ok(equals(ReplySchema, r, sent[i] as Reply), `reply ${i}`);
      });
    }),
    { numRuns: 400 },
  );
});
