// Incremental reader of server WebSocket frames (unmasked, unfragmented, as
// the gateway writes them). A connection that only counts traffic skips chat
// message payloads without copying or reading them; a probe gets each text
// payload whole.

const MESSAGE_PREFIX = Buffer.from('{"type":"message"');

export interface FrameSink {
  /** A complete text frame's payload (only when the reader keeps payloads). */
  text(payload: Buffer): void;
  /** Any other complete frame (ping 0x9, close 0x8, ...), with its payload. */
  control(opcode: number, payload: Buffer): void;
}

export class FrameReader {
  /** Payload bytes of the current frame still to skip (count-only mode). */
  #skip = 0;
  #pending: Buffer | null = null;
  frames = 0;
  bytes = 0;
  readonly #keep: boolean;
  readonly #sink: FrameSink;

  constructor(keepPayloads: boolean, sink: FrameSink) {
    this.#keep = keepPayloads;
    this.#sink = sink;
  }

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    let buf = chunk;
    if (this.#pending !== null) {
      buf = Buffer.concat([this.#pending, chunk]);
      this.#pending = null;
    }
    let o = 0;
    while (o < buf.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, buf.length - o);
        this.#skip -= n;
        o += n;
        continue;
      }
      if (buf.length - o < 2) break;
      const b0 = buf[o] as number;
      const b1 = buf[o + 1] as number;
      let len = b1 & 0x7f;
      let hl = 2;
      if (len === 126) hl = 4;
      else if (len === 127) hl = 10;
      if (buf.length - o < hl) break;
      if (len === 126) len = buf.readUInt16BE(o + 2);
      else if (len === 127) len = buf.readUInt32BE(o + 6);
      const opcode = b0 & 0x0f;
      if (opcode === 0x1 && !this.#keep && len >= MESSAGE_PREFIX.length) {
        // Count-only: chat messages are counted and skipped unread; every other
        // frame (welcome, joined, ack, reconnect...) is still read whole.
        if (buf.length - o < hl + MESSAGE_PREFIX.length) break;
        if (
          buf.compare(MESSAGE_PREFIX, 0, MESSAGE_PREFIX.length, o + hl, o + hl + MESSAGE_PREFIX.length) === 0
        ) {
          this.frames++;
          o += hl;
          this.#skip = len;
          continue;
        }
      }
      if (buf.length - o < hl + len) break;
      const payload = buf.subarray(o + hl, o + hl + len);
      o += hl + len;
      if (opcode === 0x1) {
        this.frames++;
        this.#sink.text(payload);
      } else this.#sink.control(opcode, payload);
    }
    if (o < buf.length) this.#pending = Buffer.from(buf.subarray(o));
  }
}
