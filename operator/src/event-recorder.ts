import type { Logger } from "../../platform/logger.ts";
import type { ChatCluster } from "./api/chatcluster-types.ts";
import { FIELD_MANAGER } from "./desired/names.ts";
import type { KubeApi } from "./kube-api.ts";
import { resourcePath } from "./kube-api.ts";

export type EventType = "Normal" | "Warning";

/** The same reason+message for one object is sent at most once in this window. */
export const DUPLICATE_WINDOW_MS = 5 * 60 * 1000;
/** And one object gets at most this many events per minute, whatever they say. */
export const MAX_EVENTS_PER_OBJECT_PER_MINUTE = 10;
/** Memory bound: objects tracked for rate limiting. */
const MAX_TRACKED = 10_000;

interface Track {
  windowStart: number;
  sent: number;
  lastByKey: Map<string, number>;
}

/**
 * Core v1 Events about a ChatCluster (`kubectl describe chatcluster/x` shows
 * them). Fire and forget: a failed or rate-limited event is counted and never
 * fails a reconcile.
 */
export class EventRecorder {
  readonly #api: KubeApi;
  readonly #log: Logger;
  readonly #instance: string;
  readonly #onDrop: () => void;
  readonly #now: () => number;
  readonly #tracks = new Map<string, Track>();

  constructor(api: KubeApi, log: Logger, instance: string, onDrop: () => void, now: () => number = Date.now) {
    this.#api = api;
    this.#log = log;
    this.#instance = instance;
    this.#onDrop = onDrop;
    this.#now = now;
  }

  /** Whether the rate limit lets this event through (and records it if so). */
  admit(uid: string, reason: string, message: string): boolean {
    const now = this.#now();
    let t = this.#tracks.get(uid);
    if (t === undefined) {
      if (this.#tracks.size >= MAX_TRACKED) {
        const oldest = this.#tracks.keys().next().value;
        if (oldest !== undefined) this.#tracks.delete(oldest);
      }
      t = { windowStart: now, sent: 0, lastByKey: new Map() };
      this.#tracks.set(uid, t);
    }
    if (now - t.windowStart >= 60_000) {
      t.windowStart = now;
      t.sent = 0;
    }
    const key = `${reason}\u0000${message}`;
    const last = t.lastByKey.get(key);
    if (last !== undefined && now - last < DUPLICATE_WINDOW_MS) return false;
    if (t.sent >= MAX_EVENTS_PER_OBJECT_PER_MINUTE) return false;
    t.sent++;
    if (t.lastByKey.size > 64) t.lastByKey.clear();
    t.lastByKey.set(key, now);
    return true;
  }

  record(cc: ChatCluster, type: EventType, reason: string, message: string): void {
    const uid = cc.metadata.uid ?? `${cc.metadata.namespace}/${cc.metadata.name}`;
    if (!this.admit(uid, reason, message)) {
      this.#onDrop();
      return;
    }
    const ns = cc.metadata.namespace ?? "default";
    const ts = new Date(this.#now()).toISOString().replace(/\.\d{3}Z$/, "Z");
    const event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { generateName: `${cc.metadata.name}.`, namespace: ns },
      involvedObject: {
        apiVersion: cc.apiVersion,
        kind: cc.kind,
        name: cc.metadata.name,
        namespace: ns,
        uid: cc.metadata.uid,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      count: 1,
      firstTimestamp: ts,
      lastTimestamp: ts,
      source: { component: FIELD_MANAGER },
      reportingComponent: FIELD_MANAGER,
      reportingInstance: this.#instance.slice(0, 128),
    };
    this.#api.create(resourcePath("Event", ns), event).then(
      () => undefined,
      (err: unknown) => {
        this.#onDrop();
        this.#log.debug({ err, reason }, "event not recorded");
      },
    );
  }
}
