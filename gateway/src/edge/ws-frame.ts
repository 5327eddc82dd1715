/**
 * Frames a payload as one unmasked, final WebSocket text frame (RFC 6455 5.2).
 *
 * Server frames are never masked, so the framed bytes are identical for every
 * recipient: a delivery is framed once and the same Buffer is written to each
 * socket. This bypasses ws's per-send framing on the fan-out path. It is safe
 * next to ws's own writes (pings, close frames) because ws writes control
 * frames synchronously to the socket when it is not compressing, and the edge
 * never sends data messages through ws.
 */
export function frameText(payload: Uint8Array): Buffer {
  const n = payload.byteLength;
  let out: Buffer;
  let off: number;
  if (n < 126) {
    out = Buffer.allocUnsafe(2 + n);
    out[1] = n;
    off = 2;
  } else if (n < 65_536) {
    out = Buffer.allocUnsafe(4 + n);
    out[1] = 126;
    out.writeUInt16BE(n, 2);
    off = 4;
  } else {
    out = Buffer.allocUnsafe(10 + n);
    out[1] = 127;
    out.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    out.writeUInt32BE(n >>> 0, 6);
    off = 10;
  }
  out[0] = 0x81; // FIN + opcode 1 (text)
  out.set(payload, off);
  return out;
}
