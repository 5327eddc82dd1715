/**
 * Varint writing for the hand-written encoders. Numbers are exact up to
 * 2^53; larger uint64 values (rare: a seq or batch number that high) take the
 * bigint functions.
 */

/** Bytes of the varint of n (0 <= n < 2^53). */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Writes the varint of n (0 <= n < 2^53) at pos; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n & 127) | 128;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/**
 * Bytes of the varint of n (0 <= n < 2^64). One bigint operation at most:
 * event ids start at a random 64-bit value, so the encoders meet large ones
 * on every event.
 */
export function bigVarintSize(n: bigint): number {
  if (n < 0x1_0000_0000n) return varintSize(Number(n));
  // Four 7-bit groups of the low word, then what is above bit 28 (below 2^36).
  return 4 + varintSize(Number(n >> 28n));
}

/** Writes the varint of n (0 <= n < 2^64) at pos; returns the position after it. */
export function writeBigVarint(buf: Uint8Array, pos: number, n: bigint): number {
  if (n < 0x1_0000_0000n) return writeVarint(buf, pos, Number(n));
  let lo = Number(n & 0xffff_ffffn);
  const hi = Number(n >> 32n);
  for (let i = 0; i < 4; i++) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
  }
  // Bits 28-31 of the low word, then the high word.
  return writeVarint(buf, pos, lo + hi * 16);
}
