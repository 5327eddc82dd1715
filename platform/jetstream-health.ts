import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  type StreamInfo,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { natsConnectionOptions } from "./nats-connection-options.ts";
import { storeStreamNames } from "./store-streams.ts";

/**
 * The replica health of the store's JetStream streams, from the JetStream
 * API (`$JS.API.STREAM.INFO`): which server leads each stream, and which
 * replicas are offline, silent or behind. For a status condition such as
 * `StoreDegraded` on the ChatCluster; it lives in platform/ so the operator
 * may import it (the workloads never import each other).
 *
 *   const probe = await StoreHealthProbe.open({ servers, stream: "CHATCLUSTER" });
 *   const health = await probe.check(); // every ~30 s
 *   // health.state: "healthy" | "degraded" | "unknown"; health.reason, health.message
 *   await probe.close();
 */

/** Why a stream (or the store) is not healthy; `Healthy` when it is. */
export type StreamHealthReason =
  /** A leader and every replica online, heard from recently and current. */
  | "Healthy"
  /** The stream does not exist (logic has not started against this NATS, or it was deleted). */
  | "StreamMissing"
  /** No server leads the stream: writes fail until an election ends (it lost quorum, or one is running). */
  | "NoLeader"
  /** The stream has fewer peers than its replica count (a server is gone from the cluster, or a rescale is running). */
  | "ReplicasMissing"
  /** A replica is marked offline, or its server has not been heard from for `silentAfterMs`. */
  | "ReplicaOffline"
  /** A replica is online but not current: it is catching up (lag = operations behind). */
  | "ReplicaLagging";

export interface ReplicaHealth {
  /** The server's name (server_name). */
  readonly server: string;
  readonly leader: boolean;
  readonly current: boolean;
  readonly offline: boolean;
  /** Operations behind the leader (0 for the leader). */
  readonly lag: number;
  /** Since the leader last heard from it, ms (0 for the leader). */
  readonly silentMs: number;
}

export interface StreamHealth {
  readonly stream: string;
  readonly reason: StreamHealthReason;
  /** One line for a condition message, e.g. "CHATCLUSTER: replica nats-2 offline (silent for 12 s)". */
  readonly message: string;
  readonly desiredReplicas: number;
  /** Server name of the leader; undefined when there is none (or the stream is missing). */
  readonly leader: string | undefined;
  readonly replicas: readonly ReplicaHealth[];
}

export interface StoreHealth {
  /** healthy: every stream Healthy; degraded: one is not; unknown: the JetStream API did not answer. */
  readonly state: "healthy" | "degraded" | "unknown";
  /** The worst stream's reason (`Unreachable` when state is unknown). */
  readonly reason: StreamHealthReason | "Unreachable";
  /** The streams that are not healthy, one line each (or why the API did not answer); "" when healthy. */
  readonly message: string;
  readonly streams: readonly StreamHealth[];
  /** When the check ran (ms since the epoch). */
  readonly checkedAt: number;
}

export interface HealthThresholds {
  /** A replica not heard from for this long counts as offline. Default 5 000 ms (the group heartbeats every second). */
  readonly silentAfterMs?: number;
}

const DEFAULT_SILENT_AFTER_MS = 5000;
/** Worst first: the store's reason is its worst stream's. */
const SEVERITY: readonly StreamHealthReason[] = [
  "StreamMissing",
  "NoLeader",
  "ReplicaOffline",
  "ReplicasMissing",
  "ReplicaLagging",
  "Healthy",
];

/** What one stream's info says about its replicas (pure: no I/O). */
export function assessStream(info: StreamInfo, thresholds: HealthThresholds = {}): StreamHealth {
  const silentAfterMs = thresholds.silentAfterMs ?? DEFAULT_SILENT_AFTER_MS;
  const stream = info.config.name;
  const desiredReplicas = info.config.num_replicas || 1;
  const c = info.cluster;
  // A stream on a server that is not clustered has no cluster info: its one copy is the leader.
  const leader = c === undefined ? "(single server)" : c.leader;
  const replicas: ReplicaHealth[] = [];
  if (leader !== undefined)
    replicas.push({ server: leader, leader: true, current: true, offline: false, lag: 0, silentMs: 0 });
  for (const p of c?.replicas ?? [])
    replicas.push({
      server: p.name,
      leader: false,
      current: p.current === true,
      offline: p.offline === true,
      lag: p.lag ?? 0,
      silentMs: Math.round((p.active ?? 0) / 1e6),
    });
  const followers = replicas.filter((r) => !r.leader);
  const offline = followers.filter((r) => r.offline || r.silentMs >= silentAfterMs);
  const lagging = followers.filter((r) => !offline.includes(r) && !r.current);
  const base = { stream, desiredReplicas, leader, replicas };
  if (leader === undefined)
    return {
      ...base,
      reason: "NoLeader",
      message: `${stream}: no leader (${followers.length} replicas known)`,
    };
  if (offline.length > 0)
    return {
      ...base,
      reason: "ReplicaOffline",
      message: `${stream}: ${offline.map((r) => `replica ${r.server} offline (${r.offline ? "marked offline" : `silent for ${Math.round(r.silentMs / 1000)} s`})`).join(", ")}`,
    };
  if (c !== undefined && replicas.length < desiredReplicas)
    return {
      ...base,
      reason: "ReplicasMissing",
      message: `${stream}: ${replicas.length} of ${desiredReplicas} replicas placed`,
    };
  if (lagging.length > 0)
    return {
      ...base,
      reason: "ReplicaLagging",
      message: `${stream}: ${lagging.map((r) => `replica ${r.server} catching up (${r.lag} behind)`).join(", ")}`,
    };
  return { ...base, reason: "Healthy", message: "" };
}

/** Summarises the streams' health into the store's (worst stream first in the message). */
export function summarise(streams: readonly StreamHealth[], checkedAt = Date.now()): StoreHealth {
  const bad = streams
    .filter((s) => s.reason !== "Healthy")
    .sort((a, b) => SEVERITY.indexOf(a.reason) - SEVERITY.indexOf(b.reason));
  const worst = bad[0];
  return {
    state: worst === undefined ? "healthy" : "degraded",
    reason: worst?.reason ?? "Healthy",
    message: bad.map((s) => s.message).join("; "),
    streams,
    checkedAt,
  };
}

/**
 * Asks the JetStream API for every stream the store uses and summarises. A
 * missing read-marker stream is not a fault (logic creates it on first use);
 * an API that does not answer gives `unknown`, not `degraded`.
 */
export async function checkStoreHealth(
  jsm: JetStreamManager,
  stream: string,
  thresholds: HealthThresholds = {},
): Promise<StoreHealth> {
  const names = storeStreamNames(stream);
  const found: StreamHealth[] = [];
  try {
    for (const name of [names.messages, names.presence, names.readMarkers]) {
      const info = await jsm.streams.info(name).catch((err: unknown) => {
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)
          return undefined;
        throw err;
      });
      if (info !== undefined) found.push(assessStream(info, thresholds));
      else if (name !== names.readMarkers) found.push(missing(name));
    }
  } catch (err) {
    return {
      state: "unknown",
      reason: "Unreachable",
      message: `JetStream API did not answer: ${err instanceof Error ? err.message : String(err)}`,
      streams: found,
      checkedAt: Date.now(),
    };
  }
  return summarise(found);
}

function missing(stream: string): StreamHealth {
  return {
    stream,
    reason: "StreamMissing",
    message: `${stream}: stream not found`,
    desiredReplicas: 0,
    leader: undefined,
    replicas: [],
  };
}

export interface StoreHealthProbeOptions {
  /** nats:// URLs of the cluster (every server, as logic gets them). */
  readonly servers: readonly string[];
  /** The message stream's name (`spec.store.nats.stream.name`); the others follow from it. */
  readonly stream: string;
  /** Timeout of each API request and of connecting. Default 5 000 ms. */
  readonly timeoutMs?: number;
  /** Connection name shown by the servers. Default "chatcluster-store-health". */
  readonly name?: string;
  readonly thresholds?: HealthThresholds;
}

/**
 * A connection of its own for a prober outside logic (the operator, a CLI):
 * open once, check() as often as wanted, close(). The connection reconnects
 * on its own; a check while it is away answers `unknown`.
 */
export class StoreHealthProbe {
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #o: StoreHealthProbeOptions;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, o: StoreHealthProbeOptions) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#o = o;
  }

  /** Connects; rejects (the client's error) when no server answers within the timeout. */
  static async open(o: StoreHealthProbeOptions): Promise<StoreHealthProbe> {
    const timeout = o.timeoutMs ?? 5000;
    const nc = await connect(natsConnectionOptions(o.servers, o.name ?? "chatcluster-store-health", timeout));
    try {
      return new StoreHealthProbe(nc, await jetstreamManager(nc, { timeout }), o);
    } catch (err) {
      await nc.close().catch(() => {});
      throw err;
    }
  }

  check(): Promise<StoreHealth> {
    return checkStoreHealth(this.#jsm, this.#o.stream, this.#o.thresholds);
  }

  async close(): Promise<void> {
    await this.#nc.close().catch(() => {});
  }
}
