/**
 * The JetStream streams of one ChatCluster, named after its message stream
 * (`--nats-stream`, `spec.store.nats.stream.name`): logic creates them, the
 * replica-health probe (jetstream-health.ts) reads them.
 */
export interface StoreStreamNames {
  /** Every room's messages. */
  readonly messages: string;
  /** Read markers, the last one per (room, user); created on first use. */
  readonly readMarkers: string;
  /** The presence table, shared by every logic process. */
  readonly presence: string;
}

export function storeStreamNames(stream: string): StoreStreamNames {
  return { messages: stream, readMarkers: `${stream}_READS`, presence: `${stream}_PRESENCE` };
}
