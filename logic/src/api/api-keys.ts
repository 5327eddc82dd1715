import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { LogicConfig } from "../config.ts";

/**
 * Server API keys from `--api-keys` and `--api-keys-file` (one per line, `#`
 * comments and blank lines ignored). Several keys allow rotation: add the new
 * key, move the backends over, remove the old one.
 */
export function loadApiKeys(config: Pick<LogicConfig, "apiKeys" | "apiKeysFile">): string[] {
  const keys = [...config.apiKeys];
  if (config.apiKeysFile !== "") {
    for (const line of readFileSync(config.apiKeysFile, "utf8").split(/\r?\n/)) {
      const key = line.trim();
      if (key !== "" && !key.startsWith("#")) keys.push(key);
    }
  }
  return keys;
}

/**
 * Checks `Authorization: Bearer <key>` against the keys in constant time:
 * both sides are hashed to equal-length digests and every key is compared, so
 * neither the position of a mismatch nor which key matched leaks through timing.
 */
export function createApiKeyCheck(keys: readonly string[]): (authorization: string | null) => boolean {
  const digests = keys.map(digest);
  return (authorization) => {
    if (authorization === null) return false;
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (m === null) return false;
    const presented = digest(m[1] as string);
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, presented) || ok;
    return ok;
  };
}

function digest(key: string): Buffer {
  return createHash("sha256").update(key).digest();
}
