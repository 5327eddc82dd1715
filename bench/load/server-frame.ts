// Reads the few fields a load generator needs from the server's JSON frames
// without JSON.parse: the frames' shapes and field order are fixed
// (docs/protocol.md, "Frames the logic tier produces").

const TYPE_AT = Buffer.byteLength('{"type":"');

export type ServerFrameType = "message" | "ack" | "welcome" | "joined" | "error" | "reconnect" | "other";

const TYPES: [Buffer, ServerFrameType][] = [
  [Buffer.from('message"'), "message"],
  [Buffer.from('ack"'), "ack"],
  [Buffer.from('welcome"'), "welcome"],
  [Buffer.from('joined"'), "joined"],
  [Buffer.from('error"'), "error"],
  [Buffer.from('reconnect"'), "reconnect"],
];

export function frameType(p: Buffer): ServerFrameType {
  for (const [tag, type] of TYPES)
    if (p.compare(tag, 0, tag.length, TYPE_AT, TYPE_AT + tag.length) === 0) return type;
  return "other";
}

/** The number after `"key":` at or after `from`, or NaN when absent. */
export function numberAfter(p: Buffer, key: Buffer, from = 0): number {
  const at = p.indexOf(key, from);
  if (at === -1) return Number.NaN;
  const i = at + key.length;
  let end = i;
  while (end < p.length) {
    const c = p[end] as number;
    if ((c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || c === 0x65 || c === 0x2b) end++;
    else break;
  }
  if (end === i) return Number.NaN;
  return Number(p.toString("latin1", i, end));
}

/** The string after `"key":"` at or after `from` (no escapes expected), or undefined. */
export function stringAfter(p: Buffer, key: Buffer, from = 0): string | undefined {
  const at = p.indexOf(key, from);
  if (at === -1) return undefined;
  const start = at + key.length;
  const end = p.indexOf(0x22, start);
  return end === -1 ? undefined : p.toString("utf8", start, end);
}

export const KEY = {
  seq: Buffer.from('"seq":'),
  prev: Buffer.from('"prev":'),
  body: Buffer.from('"body":'),
  id: Buffer.from('"id":"'),
  room: Buffer.from('"room":"'),
  lastSeq: Buffer.from('"last_seq":'),
  code: Buffer.from('"code":"'),
  afterMs: Buffer.from('"after_ms":'),
  retryAfterMs: Buffer.from('"retry_after_ms":'),
  message: Buffer.from('{"type":"message"'),
  incomplete: Buffer.from('"complete":false'),
} as const;
