import { createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync, type StatWatcher, unwatchFile, watchFile } from "node:fs";
import { createLocalJWKSet, type JSONWebKeySet, type JWTPayload, jwtVerify } from "jose";
import type { Logger } from "../../../platform/logger.ts";
import { PROTOCOL_BOUNDS } from "../../../protocol/index.ts";
import { patternProblem } from "../../../protocol/room-pattern.ts";
import type { LogicConfig } from "../config.ts";
import { AuthError } from "./auth-error.ts";

/**
 * Verifies client JWTs and turns their claims into an identity.
 *
 * Claims (see docs/logic.md):
 *   sub                      the user id (required)
 *   exp                      expiry (required: a connection's rights must end)
 *   rooms.read / rooms.write room patterns the user may join / send to
 *                            (arrays of strings; absent means none)
 *   jti                      the token's id (optional): RevokeToken refuses it
 *   iss / aud                checked when configured
 *
 * Exactly one key source: an HS256 secret, a PEM public key (RS256 or ES256,
 * chosen by the key's type), or a JWKS file (RS256/ES256, picked by `kid`),
 * re-read when the file changes. The algorithm list is pinned to the key
 * source, so an HS256 token cannot be verified with a public key as the secret.
 */
export interface Identity {
  readonly userId: string;
  readonly read: readonly string[];
  readonly write: readonly string[];
  /** ms since the Unix epoch; 0 for never (only a Connect hook can say so). */
  readonly expiresAtMs: number;
  /** The token's `jti`, or "" without one: revocation works by it. */
  readonly tokenId: string;
}

export interface Authenticator {
  /** Resolves the identity or rejects with AuthError. Never logs or echoes the token. */
  verify(token: string): Promise<Identity>;
  /** Stops watching the JWKS file. */
  close(): void;
}

export type AuthConfig = Pick<
  LogicConfig,
  | "jwtSecret"
  | "jwtSecretFile"
  | "jwtPublicKeyFile"
  | "jwtJwksFile"
  | "jwtIssuer"
  | "jwtAudience"
  | "jwtClockTolerance"
>;

type KeySource =
  | { readonly key: Uint8Array | KeyObject; readonly algorithms: string[] }
  | { readonly key: ReturnType<typeof createLocalJWKSet>; readonly algorithms: string[] };

const MAX_PATTERNS = 256;
/** How often the JWKS file's mtime is polled; works with Kubernetes' symlink-swapped Secret volumes. */
const JWKS_POLL_MS = 1000;

export async function createAuthenticator(config: AuthConfig, log?: Logger): Promise<Authenticator> {
  let source: KeySource;
  let watcher: StatWatcher | undefined;
  if (config.jwtJwksFile !== "") {
    const path = config.jwtJwksFile;
    source = { key: createLocalJWKSet(readJwks(path)), algorithms: ["RS256", "ES256"] };
    watcher = watchFile(path, { interval: JWKS_POLL_MS, persistent: false }, (cur, prev) => {
      if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
      try {
        source = { key: createLocalJWKSet(readJwks(path)), algorithms: ["RS256", "ES256"] };
        log?.info({ path }, "jwks reloaded");
      } catch (err) {
        // Keep verifying with the previous keys: a half-written file must not lock everyone out.
        log?.error({ path, err: err instanceof Error ? err.message : String(err) }, "jwks reload failed");
      }
    });
  } else if (config.jwtPublicKeyFile !== "") {
    source = publicKeySource(readFileSync(config.jwtPublicKeyFile, "utf8"), config.jwtPublicKeyFile);
  } else {
    const secret =
      config.jwtSecretFile !== ""
        ? readFileSync(config.jwtSecretFile, "utf8").replace(/\r?\n$/, "")
        : config.jwtSecret;
    if (Buffer.byteLength(secret) < 32) throw new Error("the HS256 secret needs at least 32 bytes");
    source = { key: new TextEncoder().encode(secret), algorithms: ["HS256"] };
  }
  const options = {
    issuer: config.jwtIssuer === "" ? undefined : config.jwtIssuer,
    audience: config.jwtAudience.length === 0 ? undefined : [...config.jwtAudience],
    clockTolerance: Math.round(config.jwtClockTolerance / 1000),
    requiredClaims: ["sub", "exp"],
  };

  return {
    async verify(token: string): Promise<Identity> {
      if (token.length === 0) throw new AuthError("token_missing", "no token");
      if (token.length > PROTOCOL_BOUNDS.maxTokenLength)
        throw new AuthError("token_missing", "token too long");
      let payload: JWTPayload;
      try {
        const s = source;
        // The two overloads (key vs key resolver) differ only in the key argument's type.
        payload =
          typeof s.key === "function"
            ? (await jwtVerify(token, s.key, { ...options, algorithms: s.algorithms })).payload
            : (await jwtVerify(token, s.key, { ...options, algorithms: s.algorithms })).payload;
      } catch (err) {
        throw toAuthError(err);
      }
      return identityFrom(payload);
    },
    close() {
      if (watcher !== undefined) unwatchFile(config.jwtJwksFile);
    },
  };
}

function readJwks(path: string): JSONWebKeySet {
  const parsed = JSON.parse(readFileSync(path, "utf8")) as JSONWebKeySet;
  if (!Array.isArray(parsed.keys)) throw new Error(`${path}: not a JWKS (no "keys" array)`);
  return parsed;
}

function publicKeySource(pem: string, path: string): KeySource {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType === "rsa") return { key, algorithms: ["RS256"] };
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") {
    return { key, algorithms: ["ES256"] };
  }
  throw new Error(`${path}: expected an RSA or P-256 EC public key, got ${key.asymmetricKeyType}`);
}

function identityFrom(payload: JWTPayload): Identity {
  const sub = payload.sub;
  if (typeof sub !== "string" || sub.length === 0 || sub.length > 256) {
    throw new AuthError("claims_invalid", "sub must be a non-empty string of at most 256 characters");
  }
  const rooms = payload.rooms;
  let read: readonly string[] = [];
  let write: readonly string[] = [];
  if (rooms !== undefined) {
    if (typeof rooms !== "object" || rooms === null || Array.isArray(rooms)) {
      throw new AuthError("claims_invalid", "rooms must be an object { read: [...], write: [...] }");
    }
    const r = rooms as Record<string, unknown>;
    read = patterns(r.read, "rooms.read");
    write = patterns(r.write, "rooms.write");
  }
  const jti = payload.jti;
  if (jti !== undefined && (typeof jti !== "string" || jti.length > 256)) {
    throw new AuthError("claims_invalid", "jti must be a string of at most 256 characters");
  }
  return {
    userId: sub,
    read,
    write,
    expiresAtMs: Math.floor((payload.exp as number) * 1000),
    tokenId: jti ?? "",
  };
}

function patterns(value: unknown, claim: string): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_PATTERNS || !value.every((v) => typeof v === "string")) {
    throw new AuthError("claims_invalid", `${claim} must be an array of at most ${MAX_PATTERNS} strings`);
  }
  for (const p of value as string[]) {
    const problem = patternProblem(p);
    if (problem !== undefined) throw new AuthError("claims_invalid", `${claim}: ${problem}`);
  }
  return Object.freeze([...(value as string[])]);
}

/** Maps jose's error codes to ours; each branch says what the client did wrong. */
function toAuthError(err: unknown): AuthError {
  const code = (err as { code?: unknown }).code;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return new AuthError("token_expired", "token expired", { cause: err });
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const claim = (err as { claim?: unknown }).claim;
      if (claim === "nbf")
        return new AuthError("token_not_yet_valid", "token not valid yet (nbf)", { cause: err });
      return new AuthError("claims_invalid", `claim ${String(claim)} missing or not accepted`, {
        cause: err,
      });
    }
    // Tampered, signed with another key, or an algorithm this server does not accept (incl. "none").
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
    case "ERR_JOSE_ALG_NOT_ALLOWED":
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
    case "ERR_JOSE_NOT_SUPPORTED":
      return new AuthError("token_invalid", "token signature or algorithm not accepted", { cause: err });
    // Not three base64url parts, or header/payload not JSON objects.
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return new AuthError("token_malformed", "token is not a well-formed JWT", { cause: err });
    default:
      return new AuthError("key_unavailable", "token could not be verified", { cause: err });
  }
}
