// Bans and revoked tokens: this process's list of them, followed from the store.
export { MODERATION_SYNC_MS, ModerationList } from "./moderation-list.ts";
export { createModerationMetrics } from "./moderation-metrics.ts";
