import { Gauge, type Registry } from "prom-client";
import type { ModerationKind } from "../store/moderation-store.ts";

/**
 * `chatcluster_logic_moderation_entries{kind}`: bans and revoked tokens in
 * force as this process's list has them, read at scrape time.
 */
export function createModerationMetrics(
  registry: Registry,
  count: (kind: ModerationKind) => number = () => 0,
): void {
  new Gauge({
    name: "chatcluster_logic_moderation_entries",
    help: "Bans (kind=ban) and revoked tokens (kind=token) in force, as this logic process's list has them.",
    labelNames: ["kind"] as const,
    registers: [registry],
    collect() {
      for (const kind of ["ban", "token"] as const) this.set({ kind }, count(kind));
    },
  });
}
