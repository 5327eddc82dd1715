import { type DevStack, StackNotReadyError, startDevStack } from "./dev-stack.ts";
import { freePortBlock } from "./free-port-block.ts";

/** A backstop only: readiness follows the processes (a crash loop fails at once). */
const READY_TIMEOUT_MS = 180_000;
/** Another test may take a port of the block between the check and the bind. */
const ATTEMPTS = 3;

/**
 * The stack tests run against: 2 gateways and 2 logic processes (by default) on 127.0.0.1,
 * on a block of ports free right now, ready to take traffic when it resolves
 * (stopped again if it never gets ready). A process that keeps exiting (its
 * port taken by a parallel test between the check and its bind) moves the
 * whole stack to another block.
 */
export async function startLoopbackStack(
  opts: {
    dataDir: string;
    store?: "sqlite" | "nats";
    natsUrl?: string;
    logLevel?: string;
    gateways?: number;
    logic?: number;
    gatewayArgs?: readonly string[];
    logicArgs?: readonly string[];
    drainWindow?: string;
    nodeArgs?: readonly string[];
    hooksExample?: boolean;
    logicEnv?: Readonly<Record<string, string>>;
  },
  write: (line: string) => void,
): Promise<DevStack> {
  for (let attempt = 1; ; attempt++) {
    const stack = await startDevStack(
      {
        gateways: opts.gateways ?? 2,
        logic: opts.logic ?? 2,
        store: opts.store ?? "sqlite",
        natsUrl: opts.natsUrl ?? "",
        dataDir: opts.dataDir,
        host: "127.0.0.1",
        basePort: await freePortBlock("127.0.0.1", opts.gateways ?? 2, opts.logic ?? 2),
        logLevel: opts.logLevel ?? "warn",
        gatewayArgs: opts.gatewayArgs,
        logicArgs: opts.logicArgs,
        drainWindow: opts.drainWindow,
        nodeArgs: opts.nodeArgs,
        ...(opts.hooksExample ? { hooksExample: true } : {}),
        ...(opts.logicEnv ? { logicEnv: opts.logicEnv } : {}),
      },
      write,
    );
    try {
      await stack.ready(READY_TIMEOUT_MS);
      return stack;
    } catch (err) {
      await stack.stop();
      if (!(err instanceof StackNotReadyError) || err.crashLoop === undefined || attempt >= ATTEMPTS)
        throw err;
      write(`[stack] ${err.message}; starting again on another block of ports (attempt ${attempt + 1})`);
    }
  }
}
