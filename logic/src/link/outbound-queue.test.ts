import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { LogicFrameSchema, ReplySchema } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { envelope } from "../../../protocol/push-stream/index.ts";
import { encodeDelivery, encodeReply } from "./frame-codec.ts";
import { MAX_CONTROL_FRAMES, OutboundQueue } from "./outbound-queue.ts";

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

/** A pull of the queue as a promise (copied: the queue reuses its frame buffer). */
function next(q: OutboundQueue): Promise<Uint8Array> {
  return new Promise((resolve) => q.pull((f) => resolve(Uint8Array.from(f))));
}

/** The frames of one pulled write (each in its gRPC envelope), decoded with the generated schema. */
function frames(write: Uint8Array) {
  const out = [];
  const b = Buffer.from(write.buffer, write.byteOffset, write.byteLength);
  for (let at = 0; at < b.length; ) {
    const len = b.readUInt32BE(at + 1);
    out.push(fromBinary(LogicFrameSchema, b.subarray(at + 5, at + 5 + len)));
    at += 5 + len;
  }
  return out;
}

/** A write that holds exactly one frame, decoded. */
function decode(write: Uint8Array) {
  const fs = frames(write);
  assert.equal(fs.length, 1, "one frame in the write");
  return fs[0] as ReturnType<typeof frames>[number];
}

/** The next write of a stream, its frames decoded. */
async function pull(q: OutboundQueue) {
  return frames(await next(q));
}

test("a write holds frames of one kind each, in queue order, up to maxBatchMessages per frame", async () => {
  const q = new OutboundQueue(limits);
  for (let i = 1; i <= 6; i++) assert.ok(q.offerDelivery(d(i)));
  assert.ok(q.offerReply(r(1)));
  assert.ok(q.offerDelivery(d(7)));
  const [f1, f2, f3, f4, ...rest] = await pull(q);
  assert.equal(rest.length, 0);
  assert.equal(f1?.kind.case, "deliveries");
  assert.deepEqual(f1?.kind.case === "deliveries" && f1.kind.value.deliveries.map((x) => x.seq), [
    1n,
    2n,
    3n,
    4n,
  ]);
  assert.equal(f1?.kind.case === "deliveries" && f1.kind.value.batchSeq, 1n);
  assert.equal(f2?.kind.case === "deliveries" && f2.kind.value.deliveries.length, 2);
  assert.equal(f2?.kind.case === "deliveries" && f2.kind.value.batchSeq, 2n);
  assert.equal(f3?.kind.case, "replies", "the reply keeps its place between the deliveries");
  assert.equal(f4?.kind.case === "deliveries" && f4.kind.value.batchSeq, 3n);
});

test("a write stops at maxBatchBytes; the first entry goes even when larger", async () => {
  const q = new OutboundQueue({ ...limits, maxMessages: 100, maxBytes: 100_000, maxBatchBytes: 250 });
  assert.ok(q.offerDelivery(d(1, 500)));
  for (let i = 2; i <= 5; i++) assert.ok(q.offerDelivery(d(i)));
  const first = await pull(q);
  assert.deepEqual(
    first.flatMap((f) => (f.kind.case === "deliveries" ? f.kind.value.deliveries.map((x) => x.seq) : [])),
    [1n],
  );
  const second = await pull(q);
  assert.deepEqual(
    second.flatMap((f) => (f.kind.case === "deliveries" ? f.kind.value.deliveries.map((x) => x.seq) : [])),
    [2n, 3n],
    "two 100-byte entries fit in 250 bytes with their headers, three do not",
  );
});

test("partial delivery batches wait for an ack only while 4 are unacknowledged; full ones never", async () => {
  const q = new OutboundQueue({ ...limits, maxMessages: 100, maxBytes: 100_000 });
  for (let i = 1; i <= 4; i++) {
    q.offerDelivery(d(i));
    const f = decode(await next(q));
    assert.equal(f.kind.case === "deliveries" && f.kind.value.batchSeq, BigInt(i), "partial batch held back");
  }
  q.offerDelivery(d(5));
  let held: Uint8Array | undefined;
  const pending = next(q).then((r) => {
    held = r;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(held, undefined, "sent a partial batch with 4 unacknowledged");
  for (let i = 6; i <= 8; i++) q.offerDelivery(d(i));
  await pending;
  assert.ok(held !== undefined, "a full batch must not wait");
  q.offerDelivery(d(9));
  const after = next(q);
  q.ack(2);
  const f = decode(await after);
  assert.equal(f.kind.case === "deliveries" && f.kind.value.deliveries[0]?.seq, 9n);
});

test("the bound counts queued plus unacknowledged entries; replies get a reserve", async () => {
  const q = new OutboundQueue(limits);
  for (let i = 1; i <= 10; i++) assert.ok(q.offerDelivery(d(i)));
  assert.equal(q.offerDelivery(d(11)), false, "over maxMessages");
  assert.notEqual(q.overflowSince, 0);
  assert.ok(q.offerReply(r(1)), "replies are not bound by maxMessages");
  await pull(q); // the 10 deliveries (batches 1-3) now in flight, still counted
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

test("resetStream forgets in-flight batches and cancels the pull; clear drops the rest", async () => {
  const q = new OutboundQueue(limits);
  for (let i = 1; i <= 6; i++) q.offerDelivery(d(i));
  assert.equal((await pull(q)).length, 2, "two batches in one write");
  let pulled = false;
  q.pull(() => {
    pulled = true;
  });
  assert.equal(q.resetStream().unacked, 6);
  q.offerDelivery(d(7));
  await new Promise((r) => setImmediate(r));
  assert.equal(pulled, false, "a cancelled pull got a frame");
  assert.equal(q.messages, 1);
  assert.equal(q.clear(), 1);
  assert.equal(q.messages, 0);
  assert.equal(q.bytes, 0);
});

test("a new stream's frames never share memory with the frames of the stream before it", async () => {
  const q = new OutboundQueue(limits);
  q.offerDelivery(d(1, 300));
  const old = await new Promise<Uint8Array>((resolve) => q.pull(resolve));
  const before = Uint8Array.from(old);
  // The old stream was reset while its write of `old` may still be pending in the session.
  q.resetStream();
  q.offerDelivery(d(2, 100));
  const fresh = await new Promise<Uint8Array>((resolve) => q.pull(resolve));
  const overlap =
    fresh.buffer === old.buffer &&
    fresh.byteOffset < old.byteOffset + old.byteLength &&
    old.byteOffset < fresh.byteOffset + fresh.byteLength;
  assert.equal(overlap, false, "the frame after a reset reuses the old stream's memory");
  assert.deepEqual(Uint8Array.from(old), before, "the old frame's bytes changed");
});

test("an idle stream gets what is queued in the same turn as one frame", async () => {
  const q = new OutboundQueue({ ...limits, maxBatchMessages: 100, maxMessages: 100, maxBytes: 100_000 });
  const pending = next(q);
  for (let i = 1; i <= 5; i++) q.offerDelivery(d(i));
  const f = decode(await pending);
  assert.equal(f.kind.case === "deliveries" && f.kind.value.deliveries.length, 5);
});

test("control frames are bounded: beyond MAX_CONTROL_FRAMES a pong is refused, and taken again once they go", async () => {
  const q = new OutboundQueue(limits);
  const pong = (n: number) =>
    Uint8Array.from(
      envelope(
        toBinary(
          LogicFrameSchema,
          create(LogicFrameSchema, { kind: { case: "pong", value: { nonce: BigInt(n) } } }),
        ),
      ),
    );
  for (let i = 1; i <= MAX_CONTROL_FRAMES; i++) assert.equal(q.pushControl(pong(i)), true);
  assert.equal(
    q.pushControl(pong(99)),
    false,
    "a gateway pinging a stream nobody writes gets no more pongs queued",
  );
  const first = decode(await next(q));
  assert.equal(first.kind.case === "pong" && first.kind.value.nonce, 1n, "control frames go first, in order");
  assert.equal(q.pushControl(pong(100)), true, "room again once one is written");
  q.resetStream();
  for (let i = 1; i <= MAX_CONTROL_FRAMES; i++)
    assert.equal(q.pushControl(pong(i)), true, "a new stream starts empty");
});

test("a held queue gives a stream only control frames until it is released", async () => {
  const q = new OutboundQueue(limits);
  q.hold();
  assert.ok(q.offerReply(r(1)));
  assert.ok(q.offerDelivery(d(1)));
  q.pushControl(Uint8Array.from([0, 0, 0, 0, 2, 0x22, 0])); // LogicFrame{ping{}}
  assert.equal(decode(await next(q)).kind.case, "ping");
  let got: Uint8Array | undefined;
  q.pull((f) => {
    got = Uint8Array.from(f);
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(got, undefined, "entries wait while held");
  q.release();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(got && frames(got).map((f) => f.kind.case), ["replies", "deliveries"]);
});
