import assert from "node:assert/strict";
import { test } from "node:test";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import * as fc from "fast-check";
import { bigVarintSize, varintSize, writeBigVarint, writeVarint } from "./varint-writer.ts";
import { WireError, type WireErrorCode } from "./wire-error.ts";
import { WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, WireReader } from "./wire-reader.ts";

function refusal(bytes: number[], read: (r: WireReader) => unknown): WireErrorCode | undefined {
  try {
    read(new WireReader(new Uint8Array(bytes), "Test"));
  } catch (err) {
    assert.ok(err instanceof WireError, `a WireError, got ${String(err)}`);
    assert.match(err.message, /^Test: /);
    return err.code;
  }
  return undefined;
}

test("varints read back what protobuf-es writes, for every uint32 and uint64", () => {
  fc.assert(
    fc.property(fc.nat({ max: 0xffff_ffff }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (a, b) => {
      const bytes = new BinaryWriter().uint32(a).uint64(b).finish();
      const r = new WireReader(bytes, "Test");
      assert.equal(r.u32(), a);
      assert.equal(r.u64(), b);
      assert.equal(r.pos, bytes.byteLength);
    }),
    { numRuns: 500 },
  );
});

test("the writers produce protobuf-es' bytes and sizes", () => {
  fc.assert(
    fc.property(fc.nat({ max: 2 ** 53 - 1 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (a, b) => {
      const buf = new Uint8Array(20);
      const end = writeBigVarint(buf, writeVarint(buf, 0, a), b);
      const theirs = new BinaryWriter().uint64(a).uint64(b).finish();
      assert.deepEqual(buf.subarray(0, end), theirs);
      assert.equal(varintSize(a) + bigVarintSize(b), theirs.byteLength);
    }),
    { numRuns: 500 },
  );
});

test("a length or uint32 of 2^32 and more is refused, never wrapped", () => {
  // 2^32 + 3 as a varint: wrapping would read 3.
  assert.equal(
    refusal([0x83, 0x80, 0x80, 0x80, 0x10], (r) => r.u32()),
    "out_of_range",
  );
  assert.equal(
    refusal([0x83, 0x80, 0x80, 0x80, 0x10, 1, 2, 3], (r) => r.lengthDelimitedEnd()),
    "out_of_range",
  );
  assert.equal(
    refusal([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], (r) => r.u32()),
    "out_of_range",
  );
  // The largest uint32 is fine.
  assert.equal(new WireReader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), "Test").u32(), 0xffff_ffff);
});

test("a length past the end of the buffer, or of the message being read, is refused", () => {
  assert.equal(
    refusal([5, 1, 2, 3, 4], (r) => r.lengthDelimitedEnd()),
    "truncated",
  );
  assert.equal(
    refusal([2, 1, 2, 3], (r) => {
      r.end = 2;
      return r.lengthDelimitedEnd();
    }),
    "truncated",
  );
  assert.equal(new WireReader(new Uint8Array([4, 1, 2, 3, 4]), "Test").lengthDelimitedEnd(), 5);
});

test("skipping checks bounds for every wire type and refuses groups", () => {
  assert.equal(
    refusal([1, 2, 3], (r) => r.skip(WIRE_FIXED64)),
    "truncated",
  );
  assert.equal(
    refusal([1, 2, 3], (r) => r.skip(WIRE_FIXED32)),
    "truncated",
  );
  assert.equal(
    refusal([0x80, 0x80], (r) => r.skip(WIRE_VARINT)),
    "truncated",
  );
  assert.equal(
    refusal([9, 1], (r) => r.skip(WIRE_LEN)),
    "truncated",
  );
  assert.equal(
    refusal([0], (r) => r.skip(3)),
    "wire_type",
  );
  assert.equal(
    refusal([0], (r) => r.skip(4)),
    "wire_type",
  );
  assert.equal(
    refusal([1, 2, 3], (r) => r.double()),
    "truncated",
  );
  const r = new WireReader(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 0x96, 0x01, 2, 9, 9, 1, 2, 3, 4]), "Test");
  r.skip(WIRE_FIXED64);
  r.skip(WIRE_VARINT);
  r.skip(WIRE_LEN);
  r.skip(WIRE_FIXED32);
  assert.equal(r.pos, r.end);
});

test("varints of more than 10 bytes and cut varints are refused", () => {
  const eleven = [...Array(10).fill(0x80), 0x01];
  assert.equal(
    refusal(eleven, (r) => r.u32()),
    "varint_too_long",
  );
  assert.equal(
    refusal(eleven, (r) => r.u64()),
    "varint_too_long",
  );
  assert.equal(
    refusal([0x80], (r) => r.u32()),
    "truncated",
  );
  assert.equal(
    refusal([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], (r) => r.u64()),
    "truncated",
  );
});
