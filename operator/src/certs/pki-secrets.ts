import { randomBytes } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import type { ChatCluster } from "../api/chatcluster-types.ts";
import { PRINCIPAL_KEY_KEY } from "../desired/internal-trust.ts";
import { type ChildNames, childMeta } from "../desired/names.ts";
import type { CaState, LeafState, PkiState } from "./internal-pki.ts";

/**
 * The operator-issued PKI as Secrets, and back: the CA (Opaque: tls.crt,
 * tls.key, and previous.crt, previous.key during a rotation, whose phase is
 * recorded in annotations) and each tier's leaf (kubernetes.io/tls: tls.crt,
 * tls.key, ca.crt). Only the tiers' Secrets are mounted into pods; the CA's
 * key never leaves its Secret and the operator.
 */

const PHASE = "chatcluster.io/ca-rotation-phase";
const SINCE = "chatcluster.io/ca-rotation-since";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

function value(secret: V1Secret | undefined, key: string): string | undefined {
  const v = secret?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
}

export function readPki(
  s: { ca: V1Secret | undefined; gateway: V1Secret | undefined; logic: V1Secret | undefined },
  nowMs: number,
): PkiState {
  return { ca: readCa(s.ca, nowMs), gateway: readLeaf(s.gateway), logic: readLeaf(s.logic) };
}

function readCa(s: V1Secret | undefined, nowMs: number): CaState | undefined {
  const cert = value(s, "tls.crt");
  const key = value(s, "tls.key");
  if (cert === undefined || key === undefined) return undefined;
  const out: CaState = { cert, key };
  const prevCert = value(s, "previous.crt");
  const prevKey = value(s, "previous.key");
  if (prevCert !== undefined && prevKey !== undefined) out.previous = { cert: prevCert, key: prevKey };
  const phase = s?.metadata?.annotations?.[PHASE];
  const since = Date.parse(s?.metadata?.annotations?.[SINCE] ?? "");
  if (out.previous !== undefined && (phase === "bundle" || phase === "leaves") && Number.isFinite(since))
    out.rotation = { phase, sinceMs: since };
  // A previous CA without a readable phase: start the staging again from the bundle.
  else if (out.previous !== undefined) out.rotation = { phase: "bundle", sinceMs: nowMs };
  return out;
}

function readLeaf(s: V1Secret | undefined): LeafState | undefined {
  const cert = value(s, "tls.crt");
  const key = value(s, "tls.key");
  if (cert === undefined || key === undefined) return undefined;
  return { cert, key, bundle: value(s, "ca.crt") ?? "" };
}

export function caSecret(cc: ChatCluster, names: ChildNames, ca: CaState): V1Secret {
  const meta = childMeta(cc, names.internalCaSecret, "config");
  const data: Record<string, string> = { "tls.crt": b64(ca.cert), "tls.key": b64(ca.key) };
  if (ca.previous !== undefined) {
    data["previous.crt"] = b64(ca.previous.cert);
    data["previous.key"] = b64(ca.previous.key);
  }
  const annotations =
    ca.rotation === undefined
      ? undefined
      : { [PHASE]: ca.rotation.phase, [SINCE]: new Date(ca.rotation.sinceMs).toISOString() };
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: annotations === undefined ? meta : { ...meta, annotations },
    type: "Opaque",
    data,
  };
}

export function leafSecret(cc: ChatCluster, name: string, leaf: LeafState): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMeta(cc, name, "config"),
    type: "kubernetes.io/tls",
    data: { "tls.crt": b64(leaf.cert), "tls.key": b64(leaf.key), "ca.crt": b64(leaf.bundle) },
  };
}

/** Logic's principal key: 32 random bytes as base64url (43 characters, above logic's 32-byte minimum). */
export function principalKeySecret(cc: ChatCluster, names: ChildNames): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMeta(cc, names.principalKeySecret, "config"),
    type: "Opaque",
    data: { [PRINCIPAL_KEY_KEY]: b64(randomBytes(32).toString("base64url")) },
  };
}
