// fast-check arbitraries of the push stream's messages, for the tests that
// hold each end's hand-written codec to the generated one.
import { create } from "@bufbuild/protobuf";
import * as fc from "fast-check";
import {
  type ClientEvent,
  ClientEventSchema,
  type Reply,
  ReplySchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";

export const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const text = fc.string({ unit: "grapheme", maxLength: 30 });

const principal = fc.option(
  fc.record({
    userId: text,
    read: fc.array(text, { maxLength: 3 }),
    write: fc.array(text, { maxLength: 3 }),
    expiresAtMs: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
    signature: fc.uint8Array({ maxLength: 40 }),
  }),
  { nil: undefined },
);

/** Every kind of event the hand-written codecs treat differently: sends (the hot kind) most often. */
const kind = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      case: fc.constant("send" as const),
      value: fc.record({ room: text, clientMsgId: text, body: fc.uint8Array({ maxLength: 300 }) }),
    }),
  },
  fc.record({
    case: fc.constant("join" as const),
    value: fc.record({ room: text, since: fc.option(u64, { nil: undefined }), limit: fc.nat(1000) }),
  }),
  fc.record({ case: fc.constant("auth" as const), value: fc.record({ token: text, refresh: fc.boolean() }) }),
  fc.record({ case: fc.constant("leave" as const), value: fc.record({ room: text }) }),
  fc.record({ case: fc.constant("closed" as const), value: fc.record({ closeCode: fc.nat(5000) }) }),
  fc.record({ case: fc.constant("presenceLease" as const), value: fc.record({ ttlMs: fc.nat() }) }),
  fc.constant({ case: undefined }),
);

export const clientEvent: fc.Arbitrary<ClientEvent> = fc
  .record({ eventId: u64, connectionId: fc.nat({ max: 0xffff_ffff }), principal, kind })
  .map((init) => create(ClientEventSchema, init as Parameters<typeof create<typeof ClientEventSchema>>[1]));

/** Replies of every kind; frame and done (the hand-written ones) most often. */
export const reply: fc.Arbitrary<Reply> = fc
  .record({
    eventId: u64,
    connectionId: fc.nat({ max: 0xffff_ffff }),
    gatewayEpoch: text,
    kind: fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({
          case: fc.constant("frame" as const),
          value: fc.uint8Array({ maxLength: 300 }),
        }),
      },
      { weight: 2, arbitrary: fc.constant({ case: "done" as const, value: {} }) },
      fc.record({
        case: fc.constant("close" as const),
        value: fc.record({ closeCode: fc.nat(5000), reason: text }),
      }),
      fc.record({
        case: fc.constant("join" as const),
        value: fc.record({ ok: fc.boolean(), room: text, lastSeq: fc.bigInt({ min: 0n, max: 1n << 40n }) }),
      }),
      fc.record({
        case: fc.constant("auth" as const),
        value: fc.record({ ok: fc.boolean(), principal: fc.record({ userId: text, read: fc.array(text) }) }),
      }),
      fc.constant({ case: undefined }),
    ),
  })
  .map((init) => create(ReplySchema, init as Parameters<typeof create<typeof ReplySchema>>[1]));
