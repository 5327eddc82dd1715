import { connect, type NatsConnection } from "@nats-io/transport-node";
import { natsConnectionOptions } from "../../../platform/nats-connection-options.ts";
import { backendFailure } from "./store-error.ts";

/**
 * A connection for the JetStream store and presence table (reconnecting
 * forever, leaving a stalled server within seconds: platform/
 * nats-connection-options.ts); fails as `store_unavailable` when no server
 * answers at first.
 */
export async function connectToNats(
  servers: readonly string[],
  name: string,
  timeoutMs: number,
): Promise<NatsConnection> {
  try {
    return await connect(natsConnectionOptions(servers, name, timeoutMs));
  } catch (err) {
    throw backendFailure("nats", err, `cannot connect to ${servers.join(",")}`);
  }
}
