import { createHash } from "node:crypto";
import type { V1ConfigMap } from "@kubernetes/client-node";
import type { ChatCluster } from "../api/chatcluster-types.ts";
import type { ResolvedSpec } from "../api/defaults.ts";
import { hooksConfigData } from "./hooks-config.ts";
import { type ChildNames, childMeta } from "./names.ts";

/**
 * Workload configuration travels as environment variables: every workload flag
 * has an env twin (platform/flags.ts), so a ConfigMap mounted with `envFrom`
 * configures a pod with no file format of its own. Secrets never go in here:
 * they are `secretKeyRef` env entries on the container. Values are strings.
 */

/** Where SQLite keeps its file inside the logic pod (the PVC mount). */
export const SQLITE_DIR = "/data";

/** Where a JWKS document from auth.jwks is mounted in the logic pod. */
export const JWKS_DIR = "/etc/chatcluster/jwks";
export const JWKS_FILE = "jwks.json";

/**
 * The gateway's own hard shutdown deadline: the drain window plus time to flush
 * and close the push streams. It must exceed the drain window by more than 5s
 * (gateway/src/config.ts checks that).
 */
export function gatewayShutdownGraceSeconds(spec: ResolvedSpec): number {
  return spec.gateway.drainSeconds + 10;
}

export function gatewayConfigData(spec: ResolvedSpec): Record<string, string> {
  const p = spec.gateway.ports;
  return {
    CHATCLUSTER_CLIENT_LISTEN: `0.0.0.0:${p.client}`,
    CHATCLUSTER_INTERNAL_LISTEN: `0.0.0.0:${p.internal}`,
    CHATCLUSTER_OPS_LISTEN: `0.0.0.0:${p.metrics}`,
    CHATCLUSTER_DRAIN_WINDOW: `${spec.gateway.drainSeconds}s`,
    CHATCLUSTER_SHUTDOWN_GRACE: `${gatewayShutdownGraceSeconds(spec)}s`,
    CHATCLUSTER_MAX_CONNECTIONS: String(spec.gateway.maxConnections),
  };
}

export function logicConfigData(spec: ResolvedSpec, names: ChildNames): Record<string, string> {
  const data: Record<string, string> = {
    CHATCLUSTER_API_LISTEN: `0.0.0.0:${spec.logic.ports.api}`,
    CHATCLUSTER_OPS_LISTEN: `0.0.0.0:${spec.logic.ports.metrics}`,
    CHATCLUSTER_DISCOVERY: "kubernetes",
    CHATCLUSTER_DISCOVERY_SERVICE: names.gatewayHeadlessService,
    CHATCLUSTER_STORE: spec.store.kind,
  };
  if (spec.store.kind === "nats") {
    data.CHATCLUSTER_NATS_URLS = spec.store.url;
    data.CHATCLUSTER_NATS_STREAM = spec.store.stream.name;
    data.CHATCLUSTER_NATS_REPLICAS = String(spec.store.stream.replicas);
    data.CHATCLUSTER_NATS_MAX_AGE = spec.store.stream.maxAge;
    data.CHATCLUSTER_NATS_DUPLICATE_WINDOW = spec.store.stream.duplicateWindow;
  } else {
    data.CHATCLUSTER_SQLITE_DATA_DIR = SQLITE_DIR;
  }
  if (spec.auth.jwks !== undefined) data.CHATCLUSTER_JWT_JWKS_FILE = `${JWKS_DIR}/${JWKS_FILE}`;
  return { ...data, ...hooksConfigData(spec.logic.hooks) };
}

export function configMap(cc: ChatCluster, name: string, data: Record<string, string>): V1ConfigMap {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: childMeta(cc, name, "config"), data };
}

/**
 * A short stable hash of everything a pod reads at start that is not already in
 * its template: the ConfigMap data and the names of referenced Secrets and keys.
 * Stored as a pod-template annotation, it rolls pods when that input changes.
 * (Edits to the content of a referenced Secret do not roll pods: see docs/operator.md.)
 */
export function configHash(...parts: readonly unknown[]): string {
  const h = createHash("sha256");
  for (const part of parts) h.update(stableJson(part)).update("\n");
  return h.digest("hex").slice(0, 16);
}

function stableJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  const keys = Object.keys(v as Record<string, unknown>).sort();
  return `{${keys
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
    .join(",")}}`;
}
