// One nats-server process, started and waited for until its /healthz answers.
// Shared by the single server (nats.ts) and the nodes of a cluster (nats-cluster.ts).
import { join } from "node:path";
import { type ManagedProcess, startProcess } from "./proc.ts";
import { request, waitFor } from "./util.ts";

export interface NatsLaunch {
  readonly bin: string;
  readonly args: readonly string[];
  readonly logsDir: string;
  readonly monitorUrl: string;
  readonly timeoutMs: number;
}

/**
 * Starts nats-server and resolves once /healthz says 200. On a cluster node
 * that means JetStream is up and current with the meta leader, so a node
 * restarted into a cluster without quorum never becomes healthy (and this
 * times out, naming the log).
 */
export async function launchNats(l: NatsLaunch): Promise<ManagedProcess> {
  const proc = startProcess({
    name: "nats-server",
    command: l.bin,
    args: [...l.args],
    logPath: join(l.logsDir, "nats-server.log"),
  });
  try {
    await waitFor(
      "nats-server /healthz",
      async () => {
        const r = await request(`${l.monitorUrl}/healthz`);
        return r.status === 200 ? true : undefined;
      },
      { timeoutMs: l.timeoutMs, intervalMs: 50, watch: [proc] },
    );
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}

/** A name nats-server and the file system both accept. */
export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]+/g, "_");
}
