import { WireError } from "./wire-error.ts";

/** Protobuf wire types this protocol uses. */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

const TWO_POW_32 = 0x1_0000_0000;

/**
 * A cursor over protobuf bytes for the hand-written decoders of both ends.
 *
 * Every read is bounds-checked against `end` (the end of the frame, or of the
 * message being read when a decoder narrows it), and every uint32 (tags,
 * lengths, uint32 fields) of 2^32 or more is refused rather than wrapped, so
 * a hostile length can neither point outside the frame nor alias a small one.
 * Errors are WireErrors naming `what`.
 *
 * Why not @bufbuild/protobuf's BinaryReader: the gateway's DeliveryBatch
 * decoder written on it is slower (bench/push/wire-reader-bench.ts), and its
 * uint32() keeps the low 32 bits of a longer varint.
 */
export class WireReader {
  readonly buf: Buffer;
  pos: number;
  /** Reads stop here: the frame's length, or the end of the message being read. */
  end: number;
  readonly what: string;

  constructor(bytes: Uint8Array, what: string) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.end = bytes.byteLength;
    this.what = what;
  }

  /** A varint of at most 32 bits: tags, lengths, uint32 fields. Larger values are refused. */
  u32(): number {
    const pos = this.pos;
    if (pos < this.end) {
      const b = this.buf[pos] as number;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    return this.#u32Long();
  }

  #u32Long(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw this.error("truncated", "truncated varint");
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (result >= TWO_POW_32) throw this.error("out_of_range", `varint ${result} does not fit 32 bits`);
        return result;
      }
      scale *= 128;
    }
    throw this.error("varint_too_long", "varint longer than 10 bytes");
  }

  /** A varint of up to 64 bits (uint64 fields); bits past the 64th are dropped, as protobuf does. */
  u64(): bigint {
    let lo = 0;
    let scale = 1;
    const start = this.pos;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) throw this.error("truncated", "truncated varint");
      const b = this.buf[this.pos++] as number;
      lo += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return BigInt(lo);
      scale *= 128;
    }
    // Rare: values of 2^49 and more.
    this.pos = start;
    let n = 0n;
    let s = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw this.error("truncated", "truncated varint");
      const b = this.buf[this.pos++] as number;
      n |= BigInt(b & 0x7f) << s;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, n);
      s += 7n;
    }
    throw this.error("varint_too_long", "varint longer than 10 bytes");
  }

  /** Reads a length and returns where its bytes end; refused when that is past `end`. */
  lengthDelimitedEnd(): number {
    const len = this.u32();
    const end = this.pos + len;
    if (end > this.end) throw this.error("truncated", "length past the end of the frame");
    return end;
  }

  /** A little-endian double (wire type 1). */
  double(): number {
    if (this.pos + 8 > this.end) throw this.error("truncated", "fixed64 past the end of the frame");
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Skips one field's value of `wireType` (an unknown field of a newer peer). */
  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.u64();
        return;
      case WIRE_FIXED64:
        this.#advance(8);
        return;
      case WIRE_LEN:
        this.pos = this.lengthDelimitedEnd();
        return;
      case WIRE_FIXED32:
        this.#advance(4);
        return;
      default:
        throw this.error("wire_type", `unsupported wire type ${wireType}`);
    }
  }

  #advance(n: number): void {
    if (this.pos + n > this.end) throw this.error("truncated", "field past the end of the frame");
    this.pos += n;
  }

  /** A WireError about the message being read. */
  error(code: ConstructorParameters<typeof WireError>[0], detail: string): WireError {
    return new WireError(code, this.what, detail);
  }
}
