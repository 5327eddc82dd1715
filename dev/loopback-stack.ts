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
 * port taken by a parallel test between the check and its bind), or one that
 * never gets ready, moves the whole stack to another block; after the last
 * attempt the error carries the processes' last lines.
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
  // The processes' last lines, for the error when the stack never gets ready
  // (callers often drop the output of a stack that works).
  const tail: string[] = [];
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > 60) tail.shift();
    write(line);
  };
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
      keep,
    );
    try {
      await stack.ready(READY_TIMEOUT_MS);
      return stack;
    } catch (err) {
      await stack.stop();
      if (!(err instanceof StackNotReadyError)) throw err;
      if (attempt >= ATTEMPTS)
        throw new StackNotReadyError(`${err.message}; last lines:\n${tail.join("\n")}`, err.crashLoop);
      // A crash loop is most often a port taken between the check and the bind;
      // a process alive but never ready is logged and given a fresh start too.
      keep(`[stack] ${err.message}; starting again on another block of ports (attempt ${attempt + 1})`);
    }
  }
}
