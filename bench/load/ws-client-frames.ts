// Client-side WebSocket framing for load generators: masked text frames with
// a zero mask key (masking is then the identity, still valid per RFC 6455),
// so a frame is built with one allocation and no per-byte work.

/** A masked client text frame carrying `text`. */
export function clientTextFrame(text: string): Buffer {
  const n = Buffer.byteLength(text);
  let hl: number;
  if (n < 126) hl = 2;
  else if (n < 65_536) hl = 4;
  else hl = 10;
  const out = Buffer.allocUnsafe(hl + 4 + n);
  out[0] = 0x81;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65_536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(n, 6);
  }
  out.writeUInt32BE(0, hl);
  out.write(text, hl + 4);
  return out;
}

/** The pong answering a server ping with an empty payload. */
export const EMPTY_PONG = Buffer.from([0x8a, 0x80, 0, 0, 0, 0]);

/** The HTTP upgrade request of a client offering the chatcluster.v1 subprotocol. */
export function upgradeRequest(host: string, port: number): string {
  return (
    `GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
    "Sec-WebSocket-Protocol: chatcluster.v1\r\n\r\n"
  );
}
