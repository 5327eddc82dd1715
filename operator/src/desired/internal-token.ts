import { randomBytes } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import type { ChatCluster } from "../api/chatcluster-types.ts";
import { type ChildNames, childMeta } from "./names.ts";

/** The Secret key holding the shared token for the gateways' internal port. */
export const INTERNAL_TOKEN_KEY = "token";
/** The token before the current one, kept only while a rotation rolls out. */
export const PREVIOUS_TOKEN_KEY = "previous";

/** Annotation on the ChatCluster: a new value asks for a new internal token. */
export const ROTATE_ANNOTATION = "chatcluster.io/rotate-internal-token";

/** Annotations of the Secret: what the operator knows about the token and the auth secrets. */
const GENERATION = "chatcluster.io/token-generation";
const ANSWERED = "chatcluster.io/rotation-answered";
const AUTH_FINGERPRINT = "chatcluster.io/auth-fingerprint";
const AUTH_REVISION = "chatcluster.io/auth-revision";

export function generateInternalToken(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * Everything the internal token Secret records, kept in one object so a
 * rotation is written in one update: the tokens, the token's generation (on
 * both pod templates from the first rotation on), the rotation request it
 * answered, and a fingerprint of the values of the auth Secrets logic reads
 * with the revision it rolled logic to. The fingerprint is SHA-256 of values
 * in Secrets of this namespace: whoever can read this Secret can read them.
 */
export interface TokenSecretState {
  token: string;
  previous: string | undefined;
  /** undefined: not recorded (a Secret made before rotations existed, or by hand); read as 0. */
  generation: number | undefined;
  answered: string | undefined;
  authFingerprint: string | undefined;
  authRevision: number;
}

export function internalTokenSecret(cc: ChatCluster, names: ChildNames, s: TokenSecretState): V1Secret {
  const annotations: Record<string, string> = {};
  if (s.generation !== undefined && s.generation > 0) annotations[GENERATION] = String(s.generation);
  if (s.answered !== undefined) annotations[ANSWERED] = s.answered;
  if (s.authFingerprint !== undefined) annotations[AUTH_FINGERPRINT] = s.authFingerprint;
  if (s.authRevision > 0) annotations[AUTH_REVISION] = String(s.authRevision);
  const meta = childMeta(cc, names.internalTokenSecret, "config");
  const data: Record<string, string> = { [INTERNAL_TOKEN_KEY]: b64(s.token) };
  if (s.previous !== undefined) data[PREVIOUS_TOKEN_KEY] = b64(s.previous);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: Object.keys(annotations).length > 0 ? { ...meta, annotations } : meta,
    type: "Opaque",
    data,
  };
}

/** The state a Secret records; no generation annotation: never rotated, or made by hand. */
export function readTokenSecret(secret: V1Secret): TokenSecretState {
  const a = secret.metadata?.annotations ?? {};
  const value = (key: string) => {
    const v = secret.data?.[key];
    return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
  };
  return {
    token: value(INTERNAL_TOKEN_KEY) ?? "",
    previous: value(PREVIOUS_TOKEN_KEY),
    generation: a[GENERATION] === undefined ? undefined : Number(a[GENERATION]),
    answered: a[ANSWERED],
    authFingerprint: a[AUTH_FINGERPRINT],
    authRevision: Number(a[AUTH_REVISION] ?? 0),
  };
}

function b64(s: string): string {
  return Buffer.from(s, "utf8").toString("base64");
}
