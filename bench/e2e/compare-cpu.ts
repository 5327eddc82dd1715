// Server CPU per send of this checkout against another one (a baseline
// commit checked out with `git worktree add`), interleaved round by round so
// that a machine busy with other work weighs on both alike. For changes to
// the send path, where a single run's figures move by tens of percent with
// the machine's load.
//
//   git worktree add /tmp/cc-base <commit> && ln -s "$PWD/node_modules" /tmp/cc-base/node_modules
//   node bench/e2e/compare-cpu.ts /tmp/cc-base [rounds] [rate] [seconds]
//
// Each round starts each checkout's `make dev` topology (SQLite, or
// COMPARE_STORE=nats), connects the same load as bench-e2e, offers `rate`
// sends/s, and reads the CPU time of its gateway and logic processes from
// /proc over `seconds`. Prints each round and the medians; writes nothing.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { startLoopbackStack as StartStack } from "../../dev/loopback-stack.ts";
import { startNats } from "../../testenv/harness/index.ts";
import { LoadFleet } from "../load/load-fleet.ts";
import { cpuSeconds } from "../load/process-cpu.ts";

const [baseArg, roundsArg, rateArg, secondsArg] = process.argv.slice(2);
if (baseArg === undefined) {
  process.stderr.write(
    "usage: node bench/e2e/compare-cpu.ts <baseline checkout> [rounds] [rate] [seconds]\n",
  );
  process.exit(2);
}
const ROUNDS = Number(roundsArg ?? 3);
const RATE = Number(rateArg ?? 1000);
const SECONDS = Number(secondsArg ?? 15);
const CONNECTIONS = Number(process.env.COMPARE_CONNECTIONS ?? 2000);
const STORE = (process.env.COMPARE_STORE ?? "sqlite") as "sqlite" | "nats";
const here = resolve(import.meta.dirname, "../..");
const trees = { baseline: resolve(baseArg), this: here };
const log = (m: string) => process.stderr.write(`compare-cpu: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Round {
  readonly us_per_send: number;
  readonly acked_per_s: number;
  readonly by_process: Record<string, number>;
}

async function round(tree: string): Promise<Round> {
  const { startLoopbackStack } = (await import(pathToFileURL(join(tree, "dev/loopback-stack.ts")).href)) as {
    startLoopbackStack: typeof StartStack;
  };
  const dataDir = mkdtempSync(join(tmpdir(), "cc-compare-cpu-"));
  const nats = STORE === "nats" ? await startNats({ name: "compare-cpu" }) : undefined;
  const stack = await startLoopbackStack({ dataDir, store: STORE, natsUrl: nats?.url }, () => {});
  try {
    const fleet = await LoadFleet.start(
      {
        gateways: stack.gatewayUrls.map((u) => ({
          host: new URL(u).hostname,
          port: Number(new URL(u).port),
        })),
        jwtSecret: readFileSync(join(dataDir, "dev-jwt-secret"), "utf8").trim(),
        connections: Array.from({ length: CONNECTIONS }, (_, i) => ({
          user: `c${i}`,
          rooms: [`e2e.room-${Math.floor(i / 10)}`],
          gateway: i % 2,
          probe: true,
          sender: true,
        })),
        processes: 4,
      },
      180_000,
    );
    try {
      const pids = new Map<string, number>();
      for (const [i, g] of stack.gateways.entries()) pids.set(`gateway-${i}`, g.pid() as number);
      for (const [i, l] of stack.logic.entries()) pids.set(`logic-${i}`, l.pid() as number);
      fleet.setRate(RATE);
      await sleep(3000);
      await fleet.stats(true);
      const start = new Map([...pids].map(([n, p]) => [n, cpuSeconds(p)]));
      await sleep(SECONDS * 1000);
      const s = await fleet.stats(true);
      fleet.setRate(0);
      const by: Record<string, number> = {};
      let total = 0;
      for (const [n, p] of pids) {
        const used = cpuSeconds(p) - (start.get(n) ?? 0);
        by[n] = Math.round((used * 1e7) / Math.max(1, s.acked)) / 10;
        total += used;
      }
      return {
        us_per_send: Math.round((total * 1e7) / Math.max(1, s.acked)) / 10,
        acked_per_s: Math.round(s.acked / SECONDS),
        by_process: by,
      };
    } finally {
      await fleet.stop();
    }
  } finally {
    await stack.stop();
    await nats?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const results: Record<string, Round[]> = { baseline: [], this: [] };
for (let r = 0; r < ROUNDS; r++) {
  // Alternate which goes first, so a trend in the machine's load favours neither.
  const order = r % 2 === 0 ? (["baseline", "this"] as const) : (["this", "baseline"] as const);
  for (const name of order) {
    const x = await round(trees[name]);
    results[name]?.push(x);
    log(
      `round ${r + 1} ${name}: ${x.us_per_send} us/send at ${x.acked_per_s} acked/s ${JSON.stringify(x.by_process)}`,
    );
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};
const b = median((results.baseline ?? []).map((x) => x.us_per_send));
const t = median((results.this ?? []).map((x) => x.us_per_send));
log(
  `median server CPU per send at ${RATE}/s (${STORE}): baseline ${b} us, this ${t} us, ratio ${(b / t).toFixed(2)}x`,
);
process.exit(0);
