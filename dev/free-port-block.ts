import { createServer } from "node:net";

/** Port offsets the dev stack uses from its base port (see dev-stack.ts), for up to 2 gateways and 2 logic processes. */
const OFFSETS = [0, 10, 11, 20, 21, 30, 31, 40, 41, 50, 51];

/**
 * A base port for `startDevStack` whose ports are all free right now on host,
 * so several stacks (parallel tests) do not collide.
 */
export async function freePortBlock(host = "127.0.0.1"): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, host, () => s.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 400) * 100;
    if ((await Promise.all(OFFSETS.map((d) => free(base + d)))).every(Boolean)) return base;
  }
  throw new Error("no free block of ports found for the dev stack");
}
