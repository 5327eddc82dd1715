// The fingerprint of the code a result measured: a hash over the content of
// every file under the result's covered folders, as they are in the working
// tree. A result stays fresh exactly as long as that content is unchanged, so
// rebases and merges that leave the measured code alone keep it valid, and any
// edit to it (committed or not) makes it stale.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Files that never change what a benchmark measures: tests, prose, other results. */
function measured(path: string): boolean {
  return !(
    path.endsWith(".test.ts") ||
    path.endsWith(".md") ||
    path.startsWith("bench/results/") ||
    path === "reliability/results.json"
  );
}

/** Tracked and untracked (not ignored) files under `covers`, sorted, that a result depends on. */
export function coveredFiles(root: string, covers: readonly string[]): string[] {
  const out = execFileSync(
    "git",
    ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ...covers],
    { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
  );
  const files = new Set(out.split("\0").filter((p) => p !== "" && measured(p)));
  return [...files].filter((p) => existsSync(join(root, p))).sort();
}

/** sha256 over (path, content) of every covered file, as hex. */
export function coveredHash(root: string, covers: readonly string[]): string {
  const h = createHash("sha256");
  for (const path of coveredFiles(root, covers)) {
    h.update(path);
    h.update("\0");
    h.update(readFileSync(join(root, path)));
    h.update("\0");
  }
  return h.digest("hex");
}
