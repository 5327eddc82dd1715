import type { Logger } from "../../../platform/logger.ts";
import type { LogicConfig } from "../config.ts";
import { JetStreamStore } from "./jetstream-store.ts";
import type { MessageStore } from "./message-store.ts";
import { SqliteStore } from "./sqlite-store.ts";

export type StoreConfig = Pick<
  LogicConfig,
  | "store"
  | "logicId"
  | "sqliteDataDir"
  | "sqliteSynchronous"
  | "natsUrls"
  | "natsStream"
  | "natsSubjectPrefix"
  | "natsDuplicateWindow"
  | "natsReplicas"
  | "natsMaxAge"
  | "storeTimeout"
>;

/**
 * Opens the configured store. Only `sqlite` and `nats` are selectable; the
 * in-memory store exists for unit tests and is not reachable from here.
 * Throws StoreError (`store_unavailable`) when the store cannot be reached.
 */
export async function openStore(config: StoreConfig, log: Logger): Promise<MessageStore> {
  if (config.store === "sqlite") {
    const store = new SqliteStore({
      dataDir: config.sqliteDataDir,
      synchronous: config.sqliteSynchronous,
      busyTimeoutMs: config.storeTimeout,
    });
    log.info({ store: "sqlite", path: store.path, synchronous: config.sqliteSynchronous }, "store open");
    return store;
  }
  const store = await JetStreamStore.open({
    servers: config.natsUrls,
    stream: config.natsStream,
    subjectPrefix: config.natsSubjectPrefix,
    duplicateWindowMs: config.natsDuplicateWindow,
    requestTimeoutMs: config.storeTimeout,
    replicas: config.natsReplicas,
    maxAgeMs: config.natsMaxAge,
    connectionName: `chatcluster-logic-${config.logicId}`,
  });
  log.info({ store: "nats", servers: config.natsUrls, stream: config.natsStream }, "store open");
  return store;
}
