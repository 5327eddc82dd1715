import { JetStreamModeration } from "./jetstream-moderation.ts";
import type { ModerationStore } from "./moderation-store.ts";
import type { StoreConfig } from "./open-store.ts";
import { SqliteModeration } from "./sqlite-moderation.ts";

/** File of the moderation table beside the message store (its own write lock). */
export const MODERATION_SQLITE_FILE = "moderation.db";

/**
 * Bans and revocations for the configured store, shared by every logic
 * process that uses the same store: a SQLite file on the node, or a
 * JetStream stream. Throws StoreError (`store_unavailable`) when the store
 * cannot be reached.
 */
export async function openModerationStore(config: StoreConfig): Promise<ModerationStore> {
  if (config.store === "sqlite") {
    return new SqliteModeration({
      dataDir: config.sqliteDataDir,
      fileName: MODERATION_SQLITE_FILE,
      busyTimeoutMs: config.storeTimeout,
    });
  }
  return JetStreamModeration.open({
    servers: config.natsUrls,
    stream: config.natsStream,
    subjectPrefix: config.natsSubjectPrefix,
    replicas: config.natsReplicas,
    requestTimeoutMs: config.storeTimeout,
    connectionName: `chatcluster-logic-${config.logicId}`,
  });
}
