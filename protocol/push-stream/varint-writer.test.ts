import assert from "node:assert/strict";
import { test } from "node:test";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import * as fc from "fast-check";
import { bigVarintSize, varintSize, writeBigVarint, writeVarint } from "./varint-writer.ts";

test("uint64 varints are the bytes protobuf writes, at every size", () => {
  const edges = [
    0n,
    1n,
    127n,
    128n,
    (1n << 28n) - 1n,
    1n << 28n,
    (1n << 32n) - 1n,
    1n << 32n,
    (1n << 35n) - 1n,
  ];
  const values = fc.oneof(
    fc.constantFrom(...edges, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    fc.integer({ min: 0, max: 64 }).map((b) => (1n << BigInt(b)) - 1n),
  );
  fc.assert(
    fc.property(values, (n) => {
      const want = new BinaryWriter().uint64(n).finish();
      const buf = new Uint8Array(12);
      const end = writeBigVarint(buf, 1, n);
      assert.deepEqual(buf.subarray(1, end), want);
      assert.equal(bigVarintSize(n), want.byteLength);
    }),
    { numRuns: 2000 },
  );
});

test("number varints up to 2^53 are the bytes protobuf writes", () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), (n) => {
      const want = new BinaryWriter().uint64(n).finish();
      const buf = new Uint8Array(10);
      assert.deepEqual(buf.subarray(0, writeVarint(buf, 0, n)), want);
      assert.equal(varintSize(n), want.byteLength);
    }),
    { numRuns: 2000 },
  );
});
