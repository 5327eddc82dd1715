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

/** Bytes of the varint of n (0 <= n < 2^64). */
export function bigVarintSize(n: bigint): number {
  let size = 1;
  while (n >= 128n) {
    n >>= 7n;
    size++;
  }
  return size;
}

/** Writes the varint of n (0 <= n < 2^64) at pos; returns the position after it. */
export function writeBigVarint(buf: Uint8Array, pos: number, n: bigint): number {
  while (n >= 128n) {
    buf[pos++] = Number(n & 127n) | 128;
    n >>= 7n;
  }
  buf[pos++] = Number(n);
  return pos;
}
