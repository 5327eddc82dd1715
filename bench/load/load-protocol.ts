// Messages between LoadFleet (the benchmark's process) and its generators.

export interface ConnectionSpec {
  readonly user: string;
  /** Rooms joined after welcome; a sender sends to the first. */
  readonly rooms: readonly string[];
  /** Index into GeneratorInit.gateways (moves go to the next one). */
  readonly gateway: number;
  /** Parses what it receives (latency, seq chain); otherwise it only counts frames. */
  readonly probe: boolean;
  readonly sender: boolean;
}

export interface GeneratorInit {
  readonly op: "init";
  readonly gateways: readonly { host: string; port: number }[];
  /** Source addresses (127.0.0.x), used round-robin: each multiplies the ephemeral ports. */
  readonly localAddresses: readonly string[];
  readonly jwtSecret: string;
  readonly connections: readonly ConnectionSpec[];
  /** Connections opened before waiting for them to be ready. */
  readonly connectConcurrency: number;
}

export type ToGenerator =
  | GeneratorInit
  | { readonly op: "rate"; readonly perSecond: number }
  | { readonly op: "stats"; readonly id: number; readonly reset: boolean }
  | { readonly op: "stop"; readonly id: number };

export interface GeneratorStats {
  sent: number;
  acked: number;
  /** Live message frames received by probes. */
  deliveries: number;
  /** Messages received inside a resume's joined page. */
  replayed: number;
  /** A live message whose prev was not the last seq seen in its room: resumed from the store. */
  gaps: number;
  /** A resume page that did not continue the chain either: messages the store does not have. */
  unrecovered: number;
  /** A live message with a seq at or below the last one seen in its room: delivered twice. */
  duplicates: number;
  /** Messages of a joined page this connection already had (two joins of one room in flight). */
  pageOverlaps: number;
  /** Connections that closed without being asked to move. */
  disconnects: number;
  /** Reconnect frames (or draining closes) followed. */
  moves: number;
  /** Moved connections that had every room joined again. */
  resumed: number;
  connectFailures: number;
  /** Upgrades answered with something else than 101 (admission refused, draining). */
  refusedUpgrades: number;
  /** Sends due while their connection was not open (not sent, not counted as sent). */
  skippedSends: number;
  errors: Record<string, number>;
  /** Text frames received by every connection. */
  frames: number;
  open: number;
  /** Connections by state (connecting, authenticating, joining, open, moving). */
  states: Record<string, number>;
  /** hdr histograms (µs), compressed base64. */
  e2e: string;
  /** The same per gateway the probe is connected to ("" when none received). */
  e2eByGateway: string[];
  ack: string;
  moveTimes: number[];
}
