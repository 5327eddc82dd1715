import assert from "node:assert/strict";
import { test } from "node:test";
import * as fc from "fast-check";
import { ENVELOPE_HEADER_BYTES } from "./constants.ts";
import { EnvelopeReader, envelope } from "./envelope.ts";
import { WireError } from "./wire-error.ts";

test("EnvelopeReader splits chunks at any boundary into the enveloped messages", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
      fc.array(fc.nat({ max: 400 }), { maxLength: 10 }),
      (messages, cuts) => {
        const wire = Buffer.concat(messages.map((m) => envelope(m)));
        const got: Buffer[] = [];
        const reader = new EnvelopeReader(1000, (m) => got.push(Buffer.from(m)));
        let pos = 0;
        for (const c of [...cuts, wire.length]) {
          const end = Math.min(wire.length, pos + c);
          reader.push(wire.subarray(pos, end));
          pos = end;
        }
        assert.deepEqual(
          got,
          messages.map((m) => Buffer.from(m)),
        );
        assert.equal(reader.midMessage, false, "whole messages leave nothing pending");
      },
    ),
    { numRuns: 300 },
  );
  const oversized = Buffer.from([0, 0, 0, 4, 0]);
  assert.throws(
    () => new EnvelopeReader(1000, () => {}).push(oversized),
    /larger than configured readMaxBytes/,
  );
  assert.throws(() => new EnvelopeReader(1000, () => {}).push(Buffer.from([1, 0, 0, 0, 0])), /compressed/);
  // The same checks when the header arrives in pieces.
  const split = new EnvelopeReader(1000, () => {});
  split.push(Buffer.from([0, 0, 0]));
  assert.throws(() => split.push(Buffer.from([4, 0])), /larger than configured readMaxBytes/);
  // A stream cut inside a header or a body is noticed.
  const cutHeader = new EnvelopeReader(1000, () => {});
  cutHeader.push(Buffer.from([0, 0]));
  assert.equal(cutHeader.midMessage, true);
  const cutBody = new EnvelopeReader(1000, () => {});
  cutBody.push(Buffer.from([0, 0, 0, 0, 3, 1]));
  assert.equal(cutBody.midMessage, true);
});

test("envelope() prefixes the flags byte and the big-endian length", () => {
  const e = envelope(new Uint8Array([7, 8, 9]));
  assert.equal(e.length, ENVELOPE_HEADER_BYTES + 3);
  assert.deepEqual([...e], [0, 0, 0, 0, 3, 7, 8, 9]);
});

test("envelope refusals are WireErrors with their gRPC status", () => {
  const code = (chunk: number[]) => {
    try {
      new EnvelopeReader(1000, () => {}).push(Buffer.from(chunk));
    } catch (err) {
      assert.ok(err instanceof WireError);
      return [err.code, err.grpcCode];
    }
    return undefined;
  };
  assert.deepEqual(code([0, 0, 0, 4, 0]), ["message_too_large", 8]);
  assert.deepEqual(code([0, 0xff, 0xff, 0xff, 0xff]), ["message_too_large", 8]);
  assert.deepEqual(code([1, 0, 0, 0, 0]), ["compressed", 13]);
});
