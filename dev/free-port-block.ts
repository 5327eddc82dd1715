import { createServer } from "node:net";

/** Port offsets the dev stack uses from its base port (see dev-stack.ts). */
function offsets(gateways: number, logic: number): number[] {
  const out = [0];
  for (let i = 0; i < gateways; i++) out.push(10 + i, 20 + i, 30 + i);
  for (let j = 0; j < logic; j++) out.push(40 + j, 50 + j);
  // The example hooks service (--hooks-example).
  out.push(60);
  return out;
}

/**
 * A base port for `startDevStack` whose ports are all free right now on host,
 * so several stacks (parallel tests) do not collide. Up to 10 gateways and 10
 * logic processes.
 */
export async function freePortBlock(host = "127.0.0.1", gateways = 2, logic = 2): Promise<number> {
  const OFFSETS = offsets(gateways, logic);
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
