import { type DevStack, startDevStack } from "./dev-stack.ts";
import { freePortBlock } from "./free-port-block.ts";

/**
 * The stack tests run against: 2 gateways and 2 logic processes on 127.0.0.1,
 * on a block of ports free right now, ready to take traffic when it resolves
 * (stopped again if it never gets ready).
 */
export async function startLoopbackStack(
  opts: { dataDir: string; store?: "sqlite" | "nats"; natsUrl?: string; logLevel?: string },
  write: (line: string) => void,
): Promise<DevStack> {
  const stack = await startDevStack(
    {
      gateways: 2,
      logic: 2,
      store: opts.store ?? "sqlite",
      natsUrl: opts.natsUrl ?? "",
      dataDir: opts.dataDir,
      host: "127.0.0.1",
      basePort: await freePortBlock(),
      logLevel: opts.logLevel ?? "warn",
    },
    write,
  );
  try {
    await stack.ready(60_000);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}
