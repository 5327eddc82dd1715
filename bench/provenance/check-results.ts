// `make lint` step: every committed result must say what produced it and must
// have been measured on the code that is here now. A result whose covered code
// changed since its run is stale: the fix is to run its command again.
//
//   node bench/provenance/check-results.ts
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { coveredHash } from "./covered-hash.ts";
import { MANIFEST_PATH, readManifest } from "./manifest.ts";
import type { Provenance } from "./provenance.ts";
import { repoRoot } from "./repo-root.ts";

/** Files under `covers` changed since `commit` (committed or not), or null when the commit is unknown here. */
function changedSince(commit: string, covers: readonly string[]): string[] | null {
  try {
    const out = execFileSync("git", ["diff", "--name-only", commit, "--", ...covers], {
      cwd: repoRoot,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    return out.split("\n").filter((l) => l !== "" && !l.endsWith(".test.ts") && !l.endsWith(".md"));
  } catch {
    return null;
  }
}

const problems: string[] = [];
for (const entry of readManifest()) {
  const path = join(repoRoot, entry.result);
  if (!existsSync(path)) {
    problems.push(`${entry.result}: missing; run \`${entry.command}\``);
    continue;
  }
  const p = (JSON.parse(readFileSync(path, "utf8")) as { provenance?: Provenance }).provenance;
  if (p === undefined || typeof p.covers_sha256 !== "string") {
    problems.push(`${entry.result}: records no provenance; run \`${entry.command}\``);
    continue;
  }
  if (JSON.stringify(p.covers) !== JSON.stringify(entry.covers)) {
    problems.push(
      `${entry.result}: measured with covers ${JSON.stringify(p.covers)}, ${MANIFEST_PATH} now says ` +
        `${JSON.stringify(entry.covers)}; run \`${entry.command}\``,
    );
    continue;
  }
  if (coveredHash(repoRoot, entry.covers) !== p.covers_sha256) {
    const files = changedSince(p.commit, entry.covers);
    const which =
      files === null
        ? `(commit ${p.commit.slice(0, 12)} is not in this clone's history)`
        : files.length > 0
          ? `(changed since commit ${p.commit.slice(0, 12)}: ${files.slice(0, 5).join(", ")}${files.length > 5 ? `, +${files.length - 5} more` : ""})`
          : `(uncommitted or untracked changes since commit ${p.commit.slice(0, 12)})`;
    problems.push(`${entry.result}: stale, the code it measures changed ${which}; run \`${entry.command}\``);
  }
}

if (problems.length > 0) {
  process.stderr.write(`${problems.map((l) => `results: ${l}`).join("\n")}\n`);
  process.exit(1);
}
