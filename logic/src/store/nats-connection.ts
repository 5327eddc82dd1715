import { connect, type NatsConnection } from "@nats-io/transport-node";
import { backendFailure } from "./store-error.ts";

/**
 * A connection for the JetStream store and presence table: it reconnects
 * forever (a NATS outage must not end the logic process) and fails as
 * `store_unavailable` when no server answers at first.
 */
export async function connectToNats(
  servers: readonly string[],
  name: string,
  timeoutMs: number,
): Promise<NatsConnection> {
  try {
    return await connect({
      servers: [...servers],
      name,
      timeout: timeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
  } catch (err) {
    throw backendFailure("nats", err, `cannot connect to ${servers.join(",")}`);
  }
}
