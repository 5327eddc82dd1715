/** Messages between a test or benchmark and gateway-fixture.ts, over the IPC channel. */
export type FixtureRequest = { id: number } & (
  | { cmd: "stats" }
  | { cmd: "roomAdded"; rooms: string[] }
  | { cmd: "roomRemoved"; rooms: string[] }
  | { cmd: "sendEvents"; room: string; count: number }
  /** One ClientEvent (serialized, base64) as a gateway would send it, principal and all. */
  | { cmd: "sendEvent"; event: string }
  /** The replies received since the last takeReplies (serialized, base64; the last 1,000 at most). */
  | { cmd: "takeReplies" }
  | { cmd: "waitDeliveries"; target: number }
  | { cmd: "latencyStart" }
  | { cmd: "latencyReport" }
  | { cmd: "metrics" }
  | { cmd: "reset" }
);

export interface FixtureStats {
  gatewayId: string;
  epoch: string;
  pid: number;
  deliveries: number;
  batches: number;
  bytes: number;
  orderViolations: number;
  replies: number;
  connectedStreams: number;
  pendingEvents: number;
  /** Payloads made by checkedPayload() whose bytes did not match their seq. */
  corrupt: number;
}

export interface LatencySummaryUs {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** The fixture's event-loop delay while recording (how late it ran, in ms). */
  loopDelayMs?: { p99: number; max: number };
}

/**
 * First byte of a payload that carries its scheduled send time: bytes 4..12
 * hold process.hrtime.bigint() (CLOCK_MONOTONIC, shared by all processes on
 * the machine) as a little-endian uint64. The fixture records now - scheduled.
 */
export const LATENCY_MAGIC = 0xfe;

/** Writes the scheduled time into a payload buffer (>= 12 bytes). */
export function stampPayload(payload: Uint8Array, scheduledNs: bigint): void {
  payload[0] = LATENCY_MAGIC;
  new DataView(payload.buffer, payload.byteOffset, payload.byteLength).setBigUint64(4, scheduledNs, true);
}

/** First byte of a payload made by checkedPayload(). */
export const CHECK_MAGIC = 0xcc;

/** A payload of `size` (>= 12) bytes the fixture can verify against the delivery's seq. */
export function checkedPayload(seq: bigint, size: number): Uint8Array {
  const p = new Uint8Array(size).fill(Number(seq & 0xffn));
  p[0] = CHECK_MAGIC;
  new DataView(p.buffer).setBigUint64(4, seq, true);
  return p;
}

/** True when a checkedPayload() payload is intact for `seq`. */
export function payloadIntact(p: Uint8Array, seq: bigint): boolean {
  if (p.byteLength < 12) return false;
  if (new DataView(p.buffer, p.byteOffset, p.byteLength).getBigUint64(4, true) !== seq) return false;
  const fill = Number(seq & 0xffn);
  for (let i = 12; i < p.byteLength; i++) if (p[i] !== fill) return false;
  return true;
}
