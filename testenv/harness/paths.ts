// Where the testenv binaries live. testenv/build.sh builds them into
// ${XDG_CACHE_HOME:-$HOME/.cache}/chatcluster/testenv/<hash>/bin, where <hash> is
// the first 16 hex digits of sha256(testenv/versions.env); this file computes the
// same path so the harness always runs the versions pinned in the checkout.
import { createHash } from "node:crypto";
import { accessSync, constants, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const BINARY_NAMES = [
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "etcd",
  "kwok",
  "helm",
  "nats-server",
] as const;

export type BinaryName = (typeof BINARY_NAMES)[number];

/** Thrown when a testenv binary is missing; the message is one line saying what to run. */
export class TestenvBinaryNotFoundError extends Error {
  readonly binary: string;
  readonly dir: string;
  constructor(binary: string, dir: string) {
    super(`${binary} not found in ${dir}: run \`make testenv\``);
    this.name = "TestenvBinaryNotFoundError";
    this.binary = binary;
    this.dir = dir;
  }
}

/** Absolute path of the repository checkout this file belongs to. */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The versions hash: first 16 hex digits of sha256(testenv/versions.env). */
export function versionsHash(): string {
  const content = readFileSync(join(repoRoot, "testenv", "versions.env"));
  return createHash("sha256").update(content).digest("hex").slice(0, 16);
}

/** Root of the per-user cache for ChatCluster (XDG_CACHE_HOME aware). */
export function cacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== "" ? xdg : join(homedir(), ".cache"), "chatcluster");
}

/** Directory holding the built binaries; CHATCLUSTER_TESTENV_BIN_DIR overrides it. */
export function binDir(): string {
  const override = process.env.CHATCLUSTER_TESTENV_BIN_DIR;
  if (override !== undefined && override !== "") return override;
  return join(cacheRoot(), "testenv", versionsHash(), "bin");
}

/** Data files built alongside the binaries (e.g. kwok stages). */
export function shareDir(): string {
  return join(dirname(binDir()), "share");
}

/** Absolute path of a testenv binary; throws TestenvBinaryNotFoundError when absent. */
export function binaryPath(name: BinaryName): string {
  const dir = binDir();
  const path = join(dir, name);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new TestenvBinaryNotFoundError(name, dir);
  }
  return path;
}
