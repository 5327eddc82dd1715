import type { Logger } from "../../../platform/logger.ts";
import type { StoreConfig } from "./open-store.ts";
import { InMemoryPresenceTable, type PresenceTable } from "./presence-table.ts";
import { SqlitePresenceTable } from "./sqlite-presence-table.ts";

/** File of the presence table beside the message store (its own write lock). */
export const PRESENCE_SQLITE_FILE = "presence.db";

/**
 * The presence table for the configured store: a SQLite file shared by every
 * logic process on the node. With the JetStream store there is no shared
 * table yet: each logic process keeps its own, which is exact only with a
 * single logic process (docs/presence.md, "Limits").
 */
export function openPresenceTable(config: StoreConfig, log: Logger): PresenceTable {
  if (config.store === "sqlite") {
    return new SqlitePresenceTable({
      dataDir: config.sqliteDataDir,
      fileName: PRESENCE_SQLITE_FILE,
      busyTimeoutMs: config.storeTimeout,
    });
  }
  log.warn("presence: no shared table for the nats store yet; exact only with one logic process");
  return new InMemoryPresenceTable();
}
