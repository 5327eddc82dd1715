import type { Logger } from "./logger.ts";

/**
 * Runs `stop` once on the first SIGTERM or SIGINT and exits when it resolves.
 * A second signal, or `stop` outliving `hardDeadlineMs`, exits at once with code 1:
 * a process that cannot shut down must not outlive its pod's grace period.
 */
export function onShutdownSignal(
  log: Logger,
  hardDeadlineMs: number,
  stop: (signal: string) => Promise<void>,
): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, hardDeadlineMs }, "shutting down");
    const deadline = setTimeout(() => {
      log.error({ hardDeadlineMs }, "shutdown exceeded its deadline: exiting");
      process.exit(1);
    }, hardDeadlineMs);
    deadline.unref();
    stop(signal).then(
      () => {
        log.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}
