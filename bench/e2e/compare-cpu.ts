// Server CPU per send of this checkout against another one (a baseline
// commit checked out with `git worktree add`), interleaved round by round so
// that a machine busy with other work weighs on both alike. For changes to
// the send path, where a single run's figures move by tens of percent with
// the machine's load.
//
//   git worktree add /tmp/cc-base <commit> && ln -s "$PWD/node_modules" /tmp/cc-base/node_modules
//   node bench/e2e/compare-cpu.ts /tmp/cc-base [slices] [rate] [seconds]
//
// Both checkouts' `make dev` topology (SQLite, or COMPARE_STORE=nats) run
// side by side with the same load as bench-e2e connected; slice by slice,
// one of them is offered `rate` sends/s for `seconds` while the other idles,
// and the CPU time of its gateway and logic processes is read from /proc.
// Prints each slice and the medians; writes nothing.
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
const ROUNDS = Number(roundsArg ?? 10);
const RATE = Number(rateArg ?? 300);
const SECONDS = Number(secondsArg ?? 5);
const CONNECTIONS = Number(process.env.COMPARE_CONNECTIONS ?? 2000);
const STORE = (process.env.COMPARE_STORE ?? "sqlite") as "sqlite" | "nats";
const here = resolve(import.meta.dirname, "../..");
const trees = { baseline: resolve(baseArg), this: here };
const log = (m: string) => process.stderr.write(`compare-cpu: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Slice {
  readonly us_per_send: number;
  readonly acked_per_s: number;
}

interface Running {
  measure(): Promise<Slice>;
  stop(): Promise<void>;
}

/** One checkout's stack with its load connected and idle. */
async function start(tree: string): Promise<Running> {
  const { startLoopbackStack } = (await import(pathToFileURL(join(tree, "dev/loopback-stack.ts")).href)) as {
    startLoopbackStack: typeof StartStack;
  };
  const dataDir = mkdtempSync(join(tmpdir(), "cc-compare-cpu-"));
  const nats = STORE === "nats" ? await startNats({ name: "compare-cpu" }) : undefined;
  const stack = await startLoopbackStack({ dataDir, store: STORE, natsUrl: nats?.url }, () => {});
  const stop = async () => {
    await stack.stop();
    await nats?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  let fleet: LoadFleet;
  try {
    fleet = await LoadFleet.start(
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
  } catch (err) {
    await stop();
    throw err;
  }
  const pids = [...stack.gateways, ...stack.logic].map((p) => p.pid() as number);
  return {
    async measure() {
      fleet.setRate(RATE);
      await sleep(1000);
      await fleet.stats(true);
      const before = pids.reduce((n, p) => n + cpuSeconds(p), 0);
      await sleep(SECONDS * 1000);
      const used = pids.reduce((n, p) => n + cpuSeconds(p), 0) - before;
      const s = await fleet.stats(true);
      fleet.setRate(0);
      // Let what is queued drain before the other checkout's slice.
      await sleep(500);
      return {
        us_per_send: Math.round((used * 1e7) / Math.max(1, s.acked)) / 10,
        acked_per_s: Math.round(s.acked / SECONDS),
      };
    },
    async stop() {
      await fleet.stop();
      await stop();
    },
  };
}

const running = { baseline: await start(trees.baseline), this: await start(trees.this) };
const results: Record<string, Slice[]> = { baseline: [], this: [] };
try {
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which goes first, so a trend in the machine's load favours neither.
    const order = r % 2 === 0 ? (["baseline", "this"] as const) : (["this", "baseline"] as const);
    const line: string[] = [];
    for (const name of order) {
      const x = await running[name].measure();
      results[name]?.push(x);
      line.push(`${name} ${x.us_per_send} us/send (${x.acked_per_s}/s)`);
    }
    log(`slice ${r + 1}: ${line.join(", ")}`);
  }
} finally {
  await running.baseline.stop();
  await running.this.stop();
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
