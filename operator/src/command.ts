import { defineCommand } from "../../platform/command.ts";
import { enumFlag } from "../../platform/flags.ts";
import { LOG_LEVELS, type LogLevel } from "../../platform/logger.ts";

export const command = defineCommand({
  name: "operator",
  summary: "The operator workload.",
  flags: {
    logLevel: enumFlag<LogLevel>("CHATCLUSTER_LOG_LEVEL", "info", "Log level.", LOG_LEVELS),
  },
  async run() {
    throw new Error("operator: not implemented in this build");
  },
});
