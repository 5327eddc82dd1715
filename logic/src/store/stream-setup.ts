import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import { StoreError } from "./store-error.ts";

/** One of the store's streams as the logic tier wants it. */
export interface StreamSpec {
  readonly name: string;
  /** The subject filter the stream must capture (`<prefix>.room.>` and the like). */
  readonly subject: string;
  /** Copies of every message: 1 on a single server, 3 (or 5) on a JetStream cluster. */
  readonly replicas: number;
  /** Set on creation and brought back to these values on every start when they drifted. */
  readonly settings: Partial<StreamConfig>;
}

/** "replicas > 1 not supported in non-clustered mode" */
const REPLICAS_NEED_CLUSTER = 10074;
/** "no suitable peers for placement": fewer JetStream servers online than replicas */
const NO_SUITABLE_PEERS = 10005;

/**
 * Creates the stream when missing, else brings its replicas and settings to
 * the spec (a changed `--nats-replicas` scales an existing stream: JetStream
 * adds or removes peers and catches new ones up while the stream serves).
 * Two processes starting at once may both create it; the loser takes the
 * winner's. A replica count the servers cannot place fails with a message
 * saying so rather than the server's terse one.
 */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<StreamInfo> {
  let info: StreamInfo | undefined;
  try {
    info = await jsm.streams.info(spec.name);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
  }
  if (info === undefined) {
    try {
      return await jsm.streams.add({
        name: spec.name,
        subjects: [spec.subject],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        num_replicas: spec.replicas,
        ...spec.settings,
      });
    } catch (err) {
      placementFailure(err, spec);
      // Another logic process may have created it a moment ago.
      return jsm.streams.info(spec.name).catch(() => {
        throw err;
      });
    }
  }
  const c = info.config;
  if (!c.subjects?.includes(spec.subject)) {
    throw new StoreError("invalid_argument", `stream ${spec.name} exists without subject ${spec.subject}`);
  }
  const drifted = Object.entries(spec.settings).some(([k, v]) => c[k as keyof StreamConfig] !== v);
  if (!drifted && c.num_replicas === spec.replicas) return info;
  let updated: StreamInfo;
  try {
    updated = await jsm.streams.update(spec.name, { ...c, ...spec.settings, num_replicas: spec.replicas });
  } catch (err) {
    placementFailure(err, spec);
    throw err;
  }
  return c.num_replicas === spec.replicas ? updated : settled(jsm, spec, updated);
}

/** How long open() waits for a rescaled stream to elect a leader and catch its new peers up. */
const RESCALE_SETTLE_MS = 30_000;

/**
 * A stream whose replica count just changed re-forms its group: until it has
 * a leader and its new peers are current, writes time out. Waits for that (a
 * few seconds for a small stream), so a process reports ready only once the
 * stream takes writes; gives up quietly after RESCALE_SETTLE_MS (writes are
 * retryable meanwhile).
 */
async function settled(jsm: JetStreamManager, spec: StreamSpec, info: StreamInfo): Promise<StreamInfo> {
  const deadline = Date.now() + RESCALE_SETTLE_MS;
  let last = info;
  while (Date.now() < deadline) {
    const peers = last.cluster?.replicas ?? [];
    if (last.cluster?.leader && peers.length === spec.replicas - 1 && peers.every((p) => p.current))
      return last;
    await new Promise((r) => setTimeout(r, 100));
    last = await jsm.streams.info(spec.name).catch(() => last);
  }
  return last;
}

/** Throws the StoreError for a replica count the servers cannot hold; returns for any other error. */
function placementFailure(err: unknown, spec: StreamSpec): void {
  if (!(err instanceof JetStreamApiError)) return;
  if (err.code === REPLICAS_NEED_CLUSTER) {
    // Configuration, not an outage: retrying will not help.
    throw new StoreError(
      "invalid_argument",
      `stream ${spec.name}: ${spec.replicas} replicas need a JetStream cluster of at least ${spec.replicas} servers, but the server is not clustered (set --nats-replicas=1 or point --nats-urls at a cluster)`,
      { cause: err },
    );
  }
  if (err.code === NO_SUITABLE_PEERS) {
    // Too few servers in the cluster, or too few online right now: worth retrying.
    throw new StoreError(
      "store_unavailable",
      `stream ${spec.name}: ${spec.replicas} replicas need ${spec.replicas} JetStream servers online in the cluster; fewer are (${err.message})`,
      { cause: err },
    );
  }
}
