import { pino } from "pino";

/**
 * Structured JSON logs on stdout, one object per line, the same shape for every
 * workload: `level` as a name, `time` in ISO 8601, `role` (gateway, logic,
 * operator, dev), `msg`. Child loggers bind context (`component`, `gatewayId`,
 * `reconcileId`) instead of repeating it.
 */
export type Logger = pino.Logger;
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];

export function createLogger(role: string, level: LogLevel): Logger {
  return pino({
    level,
    base: { role },
    messageKey: "msg",
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Secrets travel in these fields; they must never reach a log line.
    redact: {
      paths: ["token", "*.token", "apiKey", "*.apiKey", "authorization", "*.authorization"],
      censor: "[redacted]",
    },
  });
}
