/**
 * Calls fn until it resolves, waiting intervalMs after each failure, for up to
 * timeoutMs; then throws its last error. For a store coming back after a fault
 * (a reconnect or an election takes a moment).
 */
export async function eventually<T>(
  fn: () => Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; retryIf?: (err: unknown) => boolean } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (opts.retryIf?.(err) === false || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
    }
  }
}

/** Resolves once check() answers true; throws after timeoutMs naming `what`. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
