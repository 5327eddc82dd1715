// Where the testenv binaries live. testenv/build.sh builds each component into
// its own cache directory and links one set of them into
// ${XDG_CACHE_HOME:-$HOME/.cache}/chatcluster/testenv/<set>/bin, where <set>
// hashes the components' keys (their recipes and versions); `build.sh
// --print-bin-dir` names that directory, so the harness always runs the
// versions pinned in the checkout.
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
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
  "kubelet",
  "kube-proxy",
  "coredns",
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

/** Root of the per-user cache for ChatCluster (XDG_CACHE_HOME aware). */
export function cacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== "" ? xdg : join(homedir(), ".cache"), "chatcluster");
}

let resolvedBinDir: string | undefined;

/** Directory holding the built binaries; CHATCLUSTER_TESTENV_BIN_DIR overrides it. */
export function binDir(): string {
  const override = process.env.CHATCLUSTER_TESTENV_BIN_DIR;
  if (override !== undefined && override !== "") return override;
  if (resolvedBinDir === undefined) {
    const script = join(repoRoot, "testenv", "build.sh");
    // Outside a checkout (the container image ships only the harness) nothing is built.
    resolvedBinDir = existsSync(script)
      ? execFileSync("bash", [script, "--print-bin-dir"], { encoding: "utf8" }).trim()
      : join(cacheRoot(), "testenv", "unbuilt", "bin");
  }
  return resolvedBinDir;
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
