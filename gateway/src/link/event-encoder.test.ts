import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as fc from "fast-check";
import {
  type ClientEvent,
  ClientEventSchema,
  GatewayFrameSchema,
  SendRequestSchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { envelope } from "../../../protocol/push-stream/index.ts";
import { clientEvent as event } from "../../../protocol/push-stream/testing/arbitrary-frames.ts";
import { encodeClientEvent, eventBatchFrame } from "./event-encoder.ts";

test("encodeClientEvent produces toBinary's bytes for every kind", () => {
  fc.assert(
    fc.property(event, (e) => {
      assert.deepEqual(Buffer.from(encodeClientEvent(e)), Buffer.from(toBinary(ClientEventSchema, e)));
    }),
    { numRuns: 500 },
  );
});

test("a principal is encoded once per object: a later change to it is not seen (connections replace theirs)", () => {
  const p = create(ClientEventSchema, {
    principal: { userId: "a", write: [">"] },
    kind: { case: "leave", value: { room: "r" } },
  });
  const before = encodeClientEvent(p);
  (p.principal as { userId: string }).userId = "b";
  assert.deepEqual(encodeClientEvent(p), before);
});

test("eventBatchFrame is a GatewayFrame{events} in its envelope", () => {
  fc.assert(
    fc.property(fc.array(event, { maxLength: 8 }), (events: ClientEvent[]) => {
      const frame = create(GatewayFrameSchema, { kind: { case: "events", value: { events } } });
      assert.deepEqual(
        eventBatchFrame(events.map(encodeClientEvent)),
        envelope(toBinary(GatewayFrameSchema, frame)),
      );
    }),
    { numRuns: 100 },
  );
});

test("the encoder knows every field of ClientEvent and SendRequest (a new field needs a line in event-encoder.ts)", () => {
  const outside = ClientEventSchema.fields.filter((f) => f.oneof === undefined).map((f) => f.localName);
  assert.deepEqual(outside, ["eventId", "connectionId", "principal"]);
  assert.deepEqual(
    SendRequestSchema.fields.map((f) => [f.localName, f.number]),
    [
      ["room", 1],
      ["clientMsgId", 2],
      ["body", 3],
    ],
  );
  // A kind added to the oneof is encoded through its generated schema.
  const e = create(ClientEventSchema, {
    eventId: 5n,
    kind: { case: "readMarker", value: { room: "r", seq: 3n } },
  });
  assert.deepEqual(fromBinary(ClientEventSchema, encodeClientEvent(e)), e);
});
