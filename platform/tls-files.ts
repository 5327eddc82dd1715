import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createSecureContext, type SecureContext } from "node:tls";

/**
 * The PEM files one end of a TLS link presents and verifies with. Each may be
 * absent: a server always has a certificate and key; a client may have none;
 * without a CA bundle the system roots verify the peer.
 */
export interface TlsFilePaths {
  /** This process's certificate (chain, leaf first). Goes with keyFile. */
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  /** The CA bundle the peer's certificate must chain to. */
  readonly caFile?: string | undefined;
}

/** One consistent reading of the files, checked: the key matches the certificate, every PEM parses. */
export interface TlsMaterial {
  readonly cert: Buffer | undefined;
  readonly key: Buffer | undefined;
  readonly ca: Buffer | undefined;
  /** A secure context built from them, for tls.connect. */
  readonly context: SecureContext;
  /** When the certificate expires, in ms since the Unix epoch (0 without a certificate). */
  readonly notAfterMs: number;
}

/** Files that cannot be read or do not make a usable certificate, key and CA bundle. */
export class TlsFileError extends Error {
  override readonly name = "TlsFileError";
}

/** How often a watch checks the files by default: Kubernetes updates Secret volumes within about a minute anyway. */
export const DEFAULT_TLS_RELOAD_INTERVAL_MS = 10_000;

/** Reads and checks the files now; throws TlsFileError naming the file or the mismatch. */
export function loadTlsMaterial(paths: TlsFilePaths): TlsMaterial {
  const read = (path: string | undefined) => {
    if (path === undefined || path === "") return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new TlsFileError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  return checkTlsMaterial(paths, read(paths.certFile), read(paths.keyFile), read(paths.caFile));
}

function checkTlsMaterial(
  paths: TlsFilePaths,
  cert: Buffer | undefined,
  key: Buffer | undefined,
  ca: Buffer | undefined,
): TlsMaterial {
  if ((cert === undefined) !== (key === undefined))
    throw new TlsFileError("a certificate needs its key and a key its certificate");
  let notAfterMs = 0;
  if (cert !== undefined) {
    try {
      notAfterMs = Date.parse(new X509Certificate(cert).validTo);
    } catch (err) {
      throw new TlsFileError(`${paths.certFile}: not a PEM certificate (${(err as Error).message})`);
    }
  }
  let context: SecureContext;
  try {
    context = createSecureContext({ cert, key, ca });
  } catch (err) {
    // OpenSSL's reason ("key values mismatch", "no start line", ...) names the problem.
    const files = [paths.certFile, paths.keyFile, paths.caFile].filter((f) => f).join(", ");
    throw new TlsFileError(`${files}: ${(err as Error).message}`);
  }
  return Object.freeze({ cert, key, ca, context, notAfterMs });
}

export interface TlsFileWatchOptions {
  /** Check interval. Default DEFAULT_TLS_RELOAD_INTERVAL_MS. */
  readonly intervalMs?: number;
  /** New files that passed the checks; `current` already returns them. */
  readonly onReload: (material: TlsMaterial) => void;
  /** Changed files that fail the checks (once per distinct problem); the previous material stays in use. */
  readonly onError: (err: TlsFileError) => void;
}

/** Files kept current: a rotation is picked up at the next check. */
export interface TlsFileWatch {
  readonly current: TlsMaterial;
  close(): void;
}

/**
 * Loads the files now (throwing like loadTlsMaterial) and re-reads them every
 * interval. The contents are compared, not the modification times: a
 * Kubernetes Secret volume swaps a symlink to a new directory, which a watch
 * on the old files would not see, and the files are a few KB. Files that
 * changed but fail the checks (a writer caught between the certificate and
 * the key) leave the previous material in use, and are read again at the
 * next check.
 */
export function watchTlsFiles(paths: TlsFilePaths, opts: TlsFileWatchOptions): TlsFileWatch {
  let current = loadTlsMaterial(paths);
  let lastProblem = "";
  let checking = false;
  let closed = false;
  const files = [paths.certFile, paths.keyFile, paths.caFile];
  const check = async () => {
    if (checking || closed) return;
    checking = true;
    try {
      const raw = await Promise.all(
        files.map((f) => (f === undefined || f === "" ? undefined : readFile(f).catch((err: Error) => err))),
      );
      if (closed) return;
      const failed = raw.find((r): r is Error => r instanceof Error);
      if (failed !== undefined) throw new TlsFileError(`cannot read: ${failed.message}`);
      const [cert, key, ca] = raw as (Buffer | undefined)[];
      if (same(cert, current.cert) && same(key, current.key) && same(ca, current.ca)) return;
      current = checkTlsMaterial(paths, cert, key, ca);
      lastProblem = "";
      opts.onReload(current);
    } catch (err) {
      const e = err instanceof TlsFileError ? err : new TlsFileError(String(err));
      if (e.message !== lastProblem) opts.onError(e);
      lastProblem = e.message;
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(check, opts.intervalMs ?? DEFAULT_TLS_RELOAD_INTERVAL_MS);
  timer.unref();
  return {
    get current() {
      return current;
    },
    close() {
      closed = true;
      clearInterval(timer);
    },
  };
}

function same(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === undefined ? b === undefined : b !== undefined && a.equals(b);
}
