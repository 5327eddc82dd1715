// What the gateway's and logic's configs share about the internal link: the
// flags, and the checks that decide whether a process may start with it.
import { ConfigError } from "./config-error.ts";
import { boolFlag, durationFlag } from "./flags.ts";
import {
  DEFAULT_TLS_RELOAD_INTERVAL_MS,
  loadTlsMaterial,
  TlsFileError,
  type TlsFilePaths,
} from "./tls-files.ts";

/**
 * The internal link (the push stream between logic and the gateways) carries
 * every user's principal and message. It is meant to run with TLS both ways
 * and the shared secret; a gateway or logic process with neither refuses to
 * start unless this flag waives it: for local runs on loopback, where nothing
 * else can reach the ports.
 */
export const insecureInternalFlag = boolFlag(
  "CHATCLUSTER_INSECURE_INTERNAL",
  false,
  "Allow the internal link with neither TLS nor a shared secret (local runs on loopback only); without it such a process refuses to start.",
);

/** How often a gateway or logic process re-reads its internal TLS files. */
export const tlsReloadIntervalFlag = durationFlag(
  "CHATCLUSTER_INTERNAL_TLS_RELOAD_INTERVAL",
  DEFAULT_TLS_RELOAD_INTERVAL_MS,
  "How often the TLS files are re-read; rotated files apply to new connections, open streams stay up.",
  100,
  3_600_000,
);

/**
 * Throws a ConfigError (one line: what is missing and how to waive it) when
 * the link would have no protection at all, neither TLS nor the shared
 * secret, and the flag does not waive it. A link with one of them starts;
 * the process warns about what it lacks (`gaps`, logged by its composition
 * root), since a cluster may be part way to TLS (certificates not issued
 * yet) and must keep running meanwhile.
 */
export function requireProtectedInternalLink(
  has: { readonly tls: boolean; readonly secret: boolean },
  tlsFlags: string,
  insecureInternal: boolean,
): void {
  if (has.tls || has.secret || insecureInternal) return;
  throw new ConfigError(
    "insecure-internal",
    `refusing to run the internal link with neither TLS (${tlsFlags}) nor a shared secret (--internal-secret): anything that reaches it would pass for a peer; set them, or pass --insecure-internal (local runs on loopback only)`,
  );
}

/** Reads and checks the TLS files now, so a wrong path or a mismatched key fails the start in one line naming `flag`. */
export function checkTlsFiles(flag: string, paths: TlsFilePaths): void {
  try {
    loadTlsMaterial(paths);
  } catch (err) {
    if (err instanceof TlsFileError) throw new ConfigError(flag, err.message);
    throw err;
  }
}
