import type { Logger } from "../../../platform/logger.ts";
import { JetStreamPresenceTable } from "./jetstream-presence-table.ts";
import type { StoreConfig } from "./open-store.ts";
import type { PresenceTable } from "./presence-table.ts";
import { SqlitePresenceTable } from "./sqlite-presence-table.ts";

/** File of the presence table beside the message store (its own write lock). */
export const PRESENCE_SQLITE_FILE = "presence.db";

/**
 * The presence table for the configured store, shared by every logic process
 * that uses the same store: a SQLite file on the node, or a JetStream stream
 * every process follows (docs/presence.md). Throws StoreError
 * (`store_unavailable`) when the store cannot be reached.
 */
export async function openPresenceTable(config: StoreConfig, log: Logger): Promise<PresenceTable> {
  if (config.store === "sqlite") {
    return new SqlitePresenceTable({
      dataDir: config.sqliteDataDir,
      fileName: PRESENCE_SQLITE_FILE,
      busyTimeoutMs: config.storeTimeout,
    });
  }
  const t0 = performance.now();
  const table = await JetStreamPresenceTable.open({
    servers: config.natsUrls,
    stream: config.natsStream,
    subjectPrefix: config.natsSubjectPrefix,
    requestTimeoutMs: config.storeTimeout,
    replicas: config.natsReplicas,
    connectionName: `chatcluster-logic-${config.logicId}`,
    log,
  });
  log.info(
    { entries: await table.entryCount(), loadMs: Math.round(performance.now() - t0) },
    "presence table loaded",
  );
  return table;
}
