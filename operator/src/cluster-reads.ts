import { createHash } from "node:crypto";
import type { CoreV1Event, V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import type { KubeApi } from "./kube-api.ts";
import { resourcePath } from "./kube-api.ts";
import { isNotFound } from "./operator-error.ts";
import type { ReadKeys } from "./rollout/reference-check.ts";

/**
 * Reads the reconciler makes straight from the API server rather than from an
 * informer cache: objects it does not cache (user Secrets, Events) and the few
 * whose staleness could repeat or undo a gateway step.
 */

/** GET an object; undefined on 404. */
export async function getFresh<T>(
  api: KubeApi,
  kind: string,
  ns: string,
  name: string,
): Promise<T | undefined> {
  try {
    const obj = await api.get<T & { apiVersion?: string; kind?: string }>(resourcePath(kind, ns, name));
    return obj;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The key names of a Secret or ConfigMap (never the values), for reference-check.ts. */
export function readKeys(api: KubeApi, ns: string): ReadKeys {
  return async (kind, name) => {
    if (kind === "Secret") {
      const s = await getFresh<V1Secret>(api, "Secret", ns, name);
      return s === undefined ? undefined : Object.keys(s.data ?? {});
    }
    const cm = await getFresh<V1ConfigMap>(api, "ConfigMap", ns, name);
    return cm === undefined
      ? undefined
      : [...Object.keys(cm.data ?? {}), ...Object.keys(cm.binaryData ?? {})];
  };
}

/**
 * A fingerprint of the Secret values a logic pod reads into its environment
 * at start (the HS256 key, the API keys): SHA-256 over the references and
 * their values. Undefined while one of them is missing (nothing to roll to
 * yet; status already says so).
 */
export async function authFingerprint(
  api: KubeApi,
  ns: string,
  refs: readonly { name: string; key: string }[],
): Promise<string | undefined> {
  const h = createHash("sha256");
  for (const r of refs) {
    const s = await getFresh<V1Secret>(api, "Secret", ns, r.name);
    const value = s?.data?.[r.key];
    if (value === undefined) return undefined;
    h.update(`${r.name}\u0000${r.key}\u0000${value}\u0000`);
  }
  return h.digest("hex");
}

/** Only failures this recent explain pods missing now. */
export const FAILED_CREATE_WINDOW_MS = 10 * 60 * 1000;

/**
 * The StatefulSet controller reports a pod it cannot create (quota, admission,
 * a missing ServiceAccount) only as a FailedCreate Event on the StatefulSet,
 * not in its status: the latest recent one's message, if any.
 */
export async function latestFailedCreate(
  api: KubeApi,
  ns: string,
  statefulSet: string,
  nowMs: number,
): Promise<string | undefined> {
  const selector = `involvedObject.kind=StatefulSet,involvedObject.name=${statefulSet},reason=FailedCreate`;
  const list = await api.get<{ items: CoreV1Event[] }>(
    `${resourcePath("Event", ns)}?fieldSelector=${encodeURIComponent(selector)}`,
  );
  const at = (e: CoreV1Event) =>
    new Date(
      (e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? 0) as string | number,
    ).getTime();
  const latest = list.items.sort((a, b) => at(b) - at(a))[0];
  if (latest === undefined || nowMs - at(latest) > FAILED_CREATE_WINDOW_MS) return undefined;
  return latest.message;
}
