// The example hooks service (dev/hooks-example.ts) in a process of its own,
// as a team's backend runs beside ChatCluster: bench-e2e measures its CPU
// apart from the load generators'. Prints {"url": ...} once listening.
import { startHooksExample } from "../../dev/hooks-example.ts";

const hooks = await startHooksExample("127.0.0.1", 0);
process.stdout.write(`${JSON.stringify({ url: hooks.url })}\n`);
process.once("SIGTERM", () => {
  void hooks.close().then(() => process.exit(0));
});
