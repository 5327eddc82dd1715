// The benchmark side of the load generators: forks them, spreads connections
// over them, sets the send rate and merges their statistics.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as hdr from "hdr-histogram-js";
import { newHistogram } from "./histogram.ts";
import type { ConnectionSpec, GeneratorStats, ToGenerator } from "./load-protocol.ts";

const CLIENT = fileURLToPath(new URL("./chat-load-client.ts", import.meta.url));

export interface FleetOptions {
  readonly gateways: readonly { host: string; port: number }[];
  readonly jwtSecret: string;
  readonly connections: readonly ConnectionSpec[];
  /** Generator processes; connections are dealt to them in contiguous slices. */
  readonly processes: number;
  /** Source addresses per generator (127.0.0.<2 + ...>), each with its own ephemeral ports. */
  readonly addressesPerProcess?: number;
  readonly connectConcurrency?: number;
}

/** Merged statistics of every generator since the last reset. */
export interface FleetStats extends Omit<GeneratorStats, "e2e" | "ack" | "e2eByGateway"> {
  readonly e2e: hdr.Histogram;
  readonly e2eByGateway: hdr.Histogram[];
  readonly ack: hdr.Histogram;
}

export class LoadFleet {
  readonly #children: ChildProcess[] = [];
  readonly #perProcess: number[] = [];
  #nextId = 0;

  /** Forks the generators and resolves when every connection is authenticated and joined. */
  static async start(o: FleetOptions, readyTimeoutMs: number): Promise<LoadFleet> {
    const fleet = new LoadFleet();
    const per = Math.ceil(o.connections.length / o.processes);
    const readies: Promise<void>[] = [];
    const addresses = o.addressesPerProcess ?? 1;
    for (let p = 0; p < o.processes; p++) {
      const slice = o.connections.slice(p * per, (p + 1) * per);
      if (slice.length === 0) break;
      const child = fork(CLIENT, [], {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        serialization: "advanced",
      });
      fleet.#children.push(child);
      fleet.#perProcess.push(slice.length);
      readies.push(
        new Promise<void>((resolve, reject) => {
          const onMsg = (m: { op: string }) => {
            if (m.op === "ready") {
              child.off("message", onMsg);
              resolve();
            }
          };
          child.on("message", onMsg);
          child.once("exit", (code) => reject(new Error(`load generator ${p} exited (${code})`)));
        }),
      );
      const init: ToGenerator = {
        op: "init",
        gateways: o.gateways,
        localAddresses: Array.from({ length: addresses }, (_, i) => `127.0.0.${2 + p * addresses + i}`),
        jwtSecret: o.jwtSecret,
        connections: slice,
        connectConcurrency: o.connectConcurrency ?? 500,
      };
      child.send(init);
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all(readies),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`connections not ready after ${readyTimeoutMs} ms`)),
            readyTimeoutMs,
          );
        }),
      ]);
    } catch (err) {
      await fleet.stop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return fleet;
  }

  get pids(): number[] {
    return this.#children.map((c) => c.pid as number);
  }

  /** Total sends per second, shared by the generators in proportion to their connections. */
  setRate(perSecond: number): void {
    const total = this.#perProcess.reduce((a, b) => a + b, 0);
    this.#children.forEach((c, i) => {
      c.send({
        op: "rate",
        perSecond: (perSecond * (this.#perProcess[i] ?? 0)) / total,
      } satisfies ToGenerator);
    });
  }

  async stats(reset: boolean): Promise<FleetStats> {
    const all = await Promise.all(
      this.#children.map((c) =>
        this.#ask<{ stats: GeneratorStats }>(c, { op: "stats", id: ++this.#nextId, reset }),
      ),
    );
    const e2e = newHistogram();
    const ack = newHistogram();
    const e2eByGateway: hdr.Histogram[] = [];
    const sum: FleetStats = {
      sent: 0,
      acked: 0,
      deliveries: 0,
      replayed: 0,
      gaps: 0,
      unrecovered: 0,
      duplicates: 0,
      pageOverlaps: 0,
      disconnects: 0,
      moves: 0,
      resumed: 0,
      connectFailures: 0,
      refusedUpgrades: 0,
      skippedSends: 0,
      errors: {},
      frames: 0,
      open: 0,
      states: {},
      moveTimes: [],
      e2e,
      e2eByGateway,
      ack,
    };
    for (const { stats: s } of all) {
      for (const k of [
        "sent",
        "acked",
        "deliveries",
        "replayed",
        "gaps",
        "unrecovered",
        "duplicates",
        "pageOverlaps",
        "disconnects",
        "moves",
        "resumed",
        "connectFailures",
        "refusedUpgrades",
        "skippedSends",
        "frames",
        "open",
      ] as const)
        sum[k] += s[k];
      for (const [code, n] of Object.entries(s.errors)) sum.errors[code] = (sum.errors[code] ?? 0) + n;
      for (const [st, n] of Object.entries(s.states)) sum.states[st] = (sum.states[st] ?? 0) + n;
      sum.moveTimes.push(...s.moveTimes);
      e2e.add(hdr.decodeFromCompressedBase64(s.e2e));
      for (const [g, enc] of s.e2eByGateway.entries()) {
        if (enc === "") continue;
        let h = e2eByGateway[g];
        if (h === undefined) {
          h = newHistogram();
          e2eByGateway[g] = h;
        }
        h.add(hdr.decodeFromCompressedBase64(enc));
      }
      ack.add(hdr.decodeFromCompressedBase64(s.ack));
    }
    return sum;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise<void>((r) => c.once("exit", () => r()));
        try {
          c.send({ op: "stop", id: ++this.#nextId } satisfies ToGenerator);
        } catch {
          c.kill("SIGKILL");
        }
        const t = setTimeout(() => c.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }),
    );
  }

  #ask<T>(c: ChildProcess, m: ToGenerator & { id: number }): Promise<T> {
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error("load generator exited"));
      const onMsg = (r: { op: string; id?: number }) => {
        if (r.id === m.id) {
          c.off("message", onMsg);
          c.off("exit", onExit);
          resolve(r as T);
        }
      };
      c.on("message", onMsg);
      c.once("exit", onExit);
      c.send(m);
    });
  }
}
