import type { EventEmitter } from "node:events";

/**
 * Where logic learns which gateways exist.
 *
 * A discovery keeps the current set of gateway endpoints and emits "change"
 * with the whole new set whenever it differs from the previous one. Consumers
 * diff sets themselves, so an implementation never has to compute add/remove
 * events and a missed event cannot leave a consumer out of sync.
 */
export interface GatewayEndpoint {
  /**
   * Stable key of the endpoint while it exists (the pod name for EndpointSlice
   * discovery; the address itself for static and file discovery).
   */
  readonly id: string;
  /** `host:port` (h2c or TLS decided by the client) or a full `http://` / `https://` URL. */
  readonly address: string;
  /**
   * The gateway id the process at this address must answer with, when the
   * discovery source names it (the pod's name in an EndpointSlice, `id=` in a
   * static list). A pod IP reused by another gateway then cannot pass for it.
   */
  readonly gatewayId?: string;
}

export interface DiscoveryEvents {
  change: [endpoints: readonly GatewayEndpoint[]];
  error: [err: Error];
}

export interface Discovery extends EventEmitter<DiscoveryEvents> {
  /** Loads the first set (emitting "change" when it is not empty) and starts watching. */
  start(): Promise<void>;
  /** Stops watching; no event is emitted after it resolves. */
  stop(): Promise<void>;
  /** The current set (empty before start). */
  endpoints(): readonly GatewayEndpoint[];
}

/** True when both sets hold the same ids with the same addresses. */
export function sameEndpoints(a: readonly GatewayEndpoint[], b: readonly GatewayEndpoint[]): boolean {
  if (a.length !== b.length) return false;
  const byId = new Map(a.map((e) => [e.id, e.address]));
  return b.every((e) => byId.get(e.id) === e.address);
}

/**
 * Parses one entry: `address` or `id=address`. Returns null for blank lines and
 * `#` comments; throws for an entry that is not host:port or an http(s) URL.
 */
export function parseEndpoint(raw: string): GatewayEndpoint | null {
  const line = raw.trim();
  if (line === "" || line.startsWith("#")) return null;
  const eq = line.indexOf("=");
  const id = eq === -1 ? line : line.slice(0, eq).trim();
  const address = eq === -1 ? line : line.slice(eq + 1).trim();
  if (
    !/^https?:\/\/[^/\s]+\/?$/.test(address) &&
    !/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(address)
  ) {
    throw new Error(`gateway endpoint "${line}": want host:port, http(s)://host:port or id=address`);
  }
  if (id === "") throw new Error(`gateway endpoint "${line}": empty id`);
  return eq === -1 ? { id, address } : { id, address, gatewayId: id };
}

/** Parses a list of entries, dropping duplicate ids (the last one wins). */
export function parseEndpoints(lines: readonly string[]): GatewayEndpoint[] {
  const byId = new Map<string, GatewayEndpoint>();
  for (const line of lines) {
    const e = parseEndpoint(line);
    if (e !== null) byId.set(e.id, e);
  }
  return [...byId.values()];
}
