import type { ConnectionOptions } from "@nats-io/transport-node";

/**
 * How often the client pings its server, and how many pings may go
 * unanswered before it gives the server up and moves to the next URL. A
 * server that stalls without closing its sockets (SIGSTOP, a frozen VM, a
 * partition) is left after 4-6 s instead of the client default of minutes,
 * during which every request through it would time out.
 */
const PING_INTERVAL_MS = 2000;
const MAX_PINGS_OUT = 2;
/**
 * Longest wait for a server's INFO when (re)connecting. A stalled server
 * still accepts TCP connections (its kernel does), so without a short bound a
 * reconnect that tries it first waits out the whole request timeout before
 * moving to a healthy one. A live server answers in well under a millisecond
 * on a LAN.
 */
const MAX_CONNECT_TIMEOUT_MS = 2000;

/**
 * Options of every long-lived NATS connection a ChatCluster process opens
 * (logic's store and presence table, the replica-health probe): it
 * reconnects forever (a NATS outage must not end the process) and moves off
 * a stalled server within seconds.
 */
export function natsConnectionOptions(
  servers: readonly string[],
  name: string,
  timeoutMs: number,
): ConnectionOptions {
  return {
    servers: [...servers],
    name,
    timeout: Math.min(timeoutMs, MAX_CONNECT_TIMEOUT_MS),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: PING_INTERVAL_MS,
    maxPingOut: MAX_PINGS_OUT,
  };
}
