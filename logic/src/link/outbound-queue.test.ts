import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { LogicFrameSchema, ReplySchema } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { type RawFrame, RawLogicFrameSchema } from "../../../protocol/push-stream-service.ts";
import { encodeDelivery, encodeReply } from "./frame-codec.ts";
import { OutboundQueue } from "./outbound-queue.ts";

const limits = {
  maxMessages: 10,
  maxBytes: 10_000,
  replyReserveBytes: 2_000,
  maxBatchMessages: 4,
  maxBatchBytes: 1_000_000,
};
const d = (seq: number, size = 100) => encodeDelivery("room", BigInt(seq), new Uint8Array(size));
const r = (id: number) =>
  encodeReply(create(ReplySchema, { eventId: BigInt(id), kind: { case: "done", value: {} } }));

/** The next frame of a stream, decoded with the generated schema. */
async function pull(it: AsyncIterator<RawFrame>) {
  const res = await it.next();
  assert.equal(res.done, false);
  return fromBinary(LogicFrameSchema, toBinary(RawLogicFrameSchema, res.value as RawFrame));
}

test("frames take runs of one kind, in order, up to maxBatchMessages", async () => {
  const q = new OutboundQueue(limits);
  for (let i = 1; i <= 6; i++) assert.ok(q.offerDelivery(d(i)));
  assert.ok(q.offerReply(r(1)));
  assert.ok(q.offerDelivery(d(7)));
  const it = q.frames()[Symbol.asyncIterator]();
  const f1 = await pull(it);
  assert.equal(f1.kind.case, "deliveries");
  assert.deepEqual(f1.kind.case === "deliveries" && f1.kind.value.deliveries.map((x) => x.seq), [
    1n,
    2n,
    3n,
    4n,
  ]);
  assert.equal(f1.kind.case === "deliveries" && f1.kind.value.batchSeq, 1n);
  const f2 = await pull(it);
  assert.equal(f2.kind.case === "deliveries" && f2.kind.value.deliveries.length, 2);
  const f3 = await pull(it);
  assert.equal(f3.kind.case, "replies");
  q.ack(2);
  const f4 = await pull(it);
  assert.equal(f4.kind.case === "deliveries" && f4.kind.value.batchSeq, 3n);
});

test("a partial delivery batch waits for the previous batch's ack; a full one does not", async () => {
  const q = new OutboundQueue({ ...limits, maxMessages: 100, maxBytes: 100_000 });
  q.offerDelivery(d(1));
  const it = q.frames()[Symbol.asyncIterator]();
  await pull(it);
  q.offerDelivery(d(2));
  let second: IteratorResult<RawFrame> | undefined;
  const pending = it.next().then((r) => {
    second = r;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(second, undefined, "sent a partial batch while one was unacknowledged");
  for (let i = 3; i <= 5; i++) q.offerDelivery(d(i));
  await pending;
  assert.ok(second !== undefined, "a full batch must not wait");
  q.offerDelivery(d(6));
  const third = it.next();
  q.ack(2);
  const f = fromBinary(LogicFrameSchema, toBinary(RawLogicFrameSchema, (await third).value as RawFrame));
  assert.equal(f.kind.case === "deliveries" && f.kind.value.deliveries[0]?.seq, 6n);
});

test("the bound counts queued plus unacknowledged entries; replies get a reserve", async () => {
  const q = new OutboundQueue(limits);
  for (let i = 1; i <= 10; i++) assert.ok(q.offerDelivery(d(i)));
  assert.equal(q.offerDelivery(d(11)), false, "over maxMessages");
  assert.notEqual(q.overflowSince, 0);
  assert.ok(q.offerReply(r(1)), "replies are not bound by maxMessages");
  const it = q.frames()[Symbol.asyncIterator]();
  await pull(it); // 4 deliveries now in flight, still counted
  assert.equal(q.offerDelivery(d(12)), false);
  q.ack(1);
  assert.ok(q.offerDelivery(d(13)), "acknowledged batches free room");
  const big = new OutboundQueue(limits);
  assert.ok(big.offerDelivery(d(1, 9_900)));
  assert.equal(big.offerDelivery(d(2, 500)), false, "over maxBytes");
  assert.ok(big.offerReply(r(1)));
  assert.equal(
    big.offerReply(
      encodeReply(
        create(ReplySchema, { eventId: 2n, kind: { case: "frame", value: new Uint8Array(2_500) } }),
      ),
    ),
    false,
  );
});

test("resetStream forgets in-flight batches and ends the pull; clear drops the rest", async () => {
  const q = new OutboundQueue(limits);
  for (let i = 1; i <= 6; i++) q.offerDelivery(d(i));
  const it = q.frames()[Symbol.asyncIterator]();
  await pull(it);
  assert.equal(q.resetStream().unacked, 4);
  assert.equal((await it.next()).done, true);
  assert.equal(q.messages, 2);
  assert.equal(q.clear(), 2);
  assert.equal(q.messages, 0);
  assert.equal(q.bytes, 0);
});

test("an idle stream gets what is queued in the same turn as one frame", async () => {
  const q = new OutboundQueue({ ...limits, maxBatchMessages: 100, maxMessages: 100, maxBytes: 100_000 });
  const it = q.frames()[Symbol.asyncIterator]();
  const next = it.next();
  for (let i = 1; i <= 5; i++) q.offerDelivery(d(i));
  const res = await next;
  const f = fromBinary(LogicFrameSchema, toBinary(RawLogicFrameSchema, res.value as RawFrame));
  assert.equal(f.kind.case === "deliveries" && f.kind.value.deliveries.length, 5);
});
