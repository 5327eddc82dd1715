/**
 * Benchmark load generator: many raw WebSocket client connections from one
 * source address, each authenticated (an auth frame after the upgrade) and joined to one room.
 * It only counts the frames it receives (parsing frame headers, skipping
 * payloads) so that it costs far less CPU per delivery than the gateway does.
 *
 * argv: port host localAddress count firstIndex room. IPC: sends {op:"ready", failed}
 * once every socket has its welcome and joined frames; answers {op:"count"}.
 */
import { connect, type Socket } from "node:net";

const [port, host, localAddress, countArg, firstArg, room] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const count = Number(countArg);
const first = Number(firstArg);
let frames = 0;
let bytes = 0;
let ready = 0;
let failed = 0;

/** A masked client text frame (mask key 0: masking is then the identity, still valid per RFC 6455). */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  if (payload.length >= 126) throw new Error("bench frames are small");
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x81;
  out[1] = 0x80 | payload.length;
  payload.copy(out, 6);
  return out;
}
const PONG = Buffer.from([0x8a, 0x80, 0, 0, 0, 0]);
const JOIN = clientFrame(JSON.stringify({ type: "join", room }));

function open(i: number): Promise<void> {
  return new Promise((resolve) => {
    const s: Socket = connect({ port: Number(port), host, localAddress });
    let handshake = true;
    let head = Buffer.alloc(0);
    let seen = 0;
    // Frame skipper state: bytes still to skip of the current payload, partial header.
    let skip = 0;
    let partial: Buffer | null = null;
    s.setNoDelay(true);
    s.on("connect", () => {
      s.write(
        `GET / HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
          `Sec-WebSocket-Protocol: chatcluster.v1\r\n\r\n`,
      );
    });
    const onFrame = (opcode: number) => {
      if (opcode === 0x9) {
        s.write(PONG);
        return;
      }
      if (opcode !== 0x1) return;
      frames++;
      seen++;
      if (seen === 1) s.write(JOIN);
      if (seen === 2) {
        ready++;
        resolve();
      }
    };
    s.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      let buf = chunk;
      if (handshake) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end === -1) return;
        if (!head.subarray(0, 12).toString().includes("101")) {
          failed++;
          s.destroy();
          resolve();
          return;
        }
        handshake = false;
        s.write(clientFrame(JSON.stringify({ type: "auth", token: `user:load${first + i}` })));
        buf = head.subarray(end + 4);
      }
      let o = 0;
      if (partial) {
        buf = Buffer.concat([partial, buf]);
        partial = null;
      }
      while (o < buf.length) {
        if (skip > 0) {
          const n = Math.min(skip, buf.length - o);
          skip -= n;
          o += n;
          continue;
        }
        if (buf.length - o < 2) {
          partial = buf.subarray(o);
          break;
        }
        const b1 = buf[o + 1] as number;
        let len = b1 & 0x7f;
        let hl = 2;
        if (len === 126) hl = 4;
        else if (len === 127) hl = 10;
        if (buf.length - o < hl) {
          partial = buf.subarray(o);
          break;
        }
        if (len === 126) len = buf.readUInt16BE(o + 2);
        else if (len === 127) len = buf.readUInt32BE(o + 6);
        onFrame((buf[o] as number) & 0x0f);
        o += hl;
        skip = len;
      }
    });
    s.on("error", () => {
      failed++;
      resolve();
    });
  });
}

for (let i = 0; i < count; i += 200) {
  await Promise.all(Array.from({ length: Math.min(200, count - i) }, (_, k) => open(i + k)));
}
process.send?.({ op: "ready", ready, failed });
process.on("message", (m) => {
  const msg = m as { op: string; id: number };
  if (msg.op === "count") process.send?.({ op: "count", id: msg.id, frames, bytes });
});
process.on("disconnect", () => process.exit(0));
