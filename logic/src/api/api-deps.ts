import type { Logger } from "../../../platform/logger.ts";
import type { GatewayFleet } from "../gateway-fleet.ts";
import type { LogicMetrics } from "../handlers/logic-metrics.ts";
import type { ModerationList } from "../moderation/moderation-list.ts";
import type { MessageStore } from "../store/message-store.ts";
import type { ModerationStore } from "../store/moderation-store.ts";
import type { PresenceTable } from "../store/presence-table.ts";

/** What the server API's calls use: the same store, fleet and presence as the handlers. */
export interface ChatServiceDeps {
  /** Wrapped with `boundStore` (the bound shared with the handlers). */
  readonly store: MessageStore;
  readonly fleet: GatewayFleet;
  readonly presence: PresenceTable;
  readonly metrics: LogicMetrics;
  readonly log: Logger;
  readonly limits: { readonly maxBodyBytes: number; readonly maxHistoryPage: number };
  /** Bans and revocations: the store they outlive processes in, and this process's list. */
  readonly moderation: { readonly store: ModerationStore; readonly list: ModerationList };
  /** This logic process, for Info. */
  readonly self: { readonly logicId: string; readonly epoch: string; readonly version: string };
}
