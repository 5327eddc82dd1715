// Micro-benchmark behind the hand-written push-stream primitives
// (protocol/push-stream): the gateway's DeliveryBatch decoder on WireReader
// against the same decoder on @bufbuild/protobuf's BinaryReader and against
// fromBinary, and logic's Delivery encoder against BinaryWriter and toBinary.
// 256 deliveries of 1.2 KB per batch, as in bench/push.
//
//   node bench/push/wire-reader-bench.ts
//
// Prints ns per delivery (median of 7 rounds) and the machine's load average;
// forked by `make bench-push`, it sends the medians to its parent, which
// records them in bench/results/push.json.

import { loadavg } from "node:os";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { decodeDeliveryBatch } from "../../gateway/src/link/frame-codec.ts";
import {
  type Delivery,
  DeliveryBatchSchema,
  DeliverySchema,
} from "../../gen/chatcluster/v1/gateway_stream_pb.js";
import { encodeDelivery } from "../../logic/src/link/frame-codec.ts";

const N = 256;
const payload = new Uint8Array(1200).fill(0x61);
const deliveries = Array.from({ length: N }, (_, i) =>
  create(DeliverySchema, {
    room: `room-${i % 16}`,
    seq: BigInt(1_000_000 + i),
    payload,
    acceptedAtMs: 1.7e12 + i,
  }),
);
const batch = toBinary(DeliveryBatchSchema, create(DeliveryBatchSchema, { batchSeq: 42n, deliveries }));

/** The gateway's decoder written on BinaryReader, field for field. */
function decodeWithBinaryReader(bytes: Uint8Array): { batchSeq: bigint; deliveries: Delivery[] } {
  const r = new BinaryReader(bytes);
  let batchSeq = 0n;
  const out: Delivery[] = [];
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.Varint) batchSeq = BigInt(r.uint64());
    else if (no === 2 && wt === WireType.LengthDelimited) {
      const end = r.uint32() + r.pos;
      let room = "";
      let seq = 0n;
      let p: Uint8Array = new Uint8Array(0);
      let acceptedAtMs = 0;
      while (r.pos < end) {
        const [f, w] = r.tag();
        if (f === 1) room = r.string();
        else if (f === 2) seq = BigInt(r.uint64());
        else if (f === 4) p = r.bytes();
        else if (f === 5) acceptedAtMs = r.double();
        else r.skip(w);
      }
      out.push({ $typeName: "chatcluster.v1.Delivery", room, seq, payload: p, acceptedAtMs });
    } else r.skip(wt);
  }
  return { batchSeq, deliveries: out };
}

/** What encodeDelivery builds (the head up to the payload's length, and the trailing double) on BinaryWriter. */
function encodeWithBinaryWriter(d: Delivery): Uint8Array[] {
  const head = new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .string(d.room)
    .tag(2, WireType.Varint)
    .uint64(d.seq)
    .tag(4, WireType.LengthDelimited)
    .uint32(d.payload.byteLength)
    .finish();
  const trail = new BinaryWriter().tag(5, WireType.Bit64).double(d.acceptedAtMs).finish();
  return [head, trail];
}

const medians: Record<string, number> = {};

function measure(key: string, name: string, rounds: number, fn: () => void): void {
  const perDelivery: number[] = [];
  for (let round = 0; round < 7; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) fn();
    perDelivery.push(Number(process.hrtime.bigint() - start) / rounds / N);
  }
  perDelivery.sort((a, b) => a - b);
  const med = perDelivery[3] as number;
  medians[key] = Math.round(med);
  console.log(`${name.padEnd(44)} ${med.toFixed(0).padStart(6)} ns/delivery`);
}

// Warm up every path first so the rounds compare optimized code.
for (let i = 0; i < 300; i++) {
  decodeDeliveryBatch(batch);
  decodeWithBinaryReader(batch);
  fromBinary(DeliveryBatchSchema, batch);
  for (const d of deliveries) {
    encodeDelivery(d.room, d.seq, d.payload, d.acceptedAtMs);
    encodeWithBinaryWriter(d);
  }
}
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}; ${N} deliveries of 1.2 KB per batch`,
);
measure("decode_wire_reader", "decode: WireReader (gateway, payload views)", 2000, () =>
  decodeDeliveryBatch(batch),
);
measure("decode_binary_reader", "decode: BinaryReader (payload views)", 2000, () =>
  decodeWithBinaryReader(batch),
);
measure("decode_from_binary", "decode: fromBinary(DeliveryBatch)", 500, () =>
  fromBinary(DeliveryBatchSchema, batch),
);
measure("encode_varint_writer", "encode: varint-writer (logic, payload referenced)", 2000, () => {
  for (const d of deliveries) encodeDelivery(d.room, d.seq, d.payload, d.acceptedAtMs);
});
measure("encode_binary_writer", "encode: BinaryWriter (payload referenced)", 2000, () => {
  for (const d of deliveries) encodeWithBinaryWriter(d);
});
measure("encode_to_binary", "encode: toBinary(Delivery) (payload copied)", 300, () => {
  for (const d of deliveries) toBinary(DeliverySchema, d);
});
process.send?.(medians);
