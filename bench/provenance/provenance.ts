// What produced a result: recorded in every results file under "provenance",
// so a figure can always be traced to the code, runtime and machine state it
// came from, and `make lint` can tell when it went stale (check-results.ts).
import { execFileSync } from "node:child_process";
import { cpus, loadavg, totalmem } from "node:os";
import { coveredFiles, coveredHash } from "./covered-hash.ts";
import { manifestEntry } from "./manifest.ts";
import { repoRoot } from "./repo-root.ts";

export interface Provenance {
  /** HEAD when the run started. */
  readonly commit: string;
  /** Whether the working tree differed from HEAD anywhere when the run started. */
  readonly dirty: boolean;
  /** Covered files that differed from HEAD (the result measured uncommitted code there). */
  readonly dirty_covered: readonly string[];
  /** Folders the result depends on (from the manifest) and the hash of their content. */
  readonly covers: readonly string[];
  readonly covers_sha256: string;
  readonly node: string;
  readonly cpus: number;
  readonly cpu_model: string;
  readonly memory_gb: number;
  readonly loadavg_start: readonly number[];
  readonly loadavg_end: readonly number[];
  readonly started_at: string;
  readonly finished_at: string;
}

function git(args: string[]): string {
  return execFileSync("git", args, { cwd: repoRoot, encoding: "utf8" }).trim();
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** The part of a Provenance known when a run starts; plain data, so another process can finish it. */
export type ProvenanceStart = Omit<Provenance, "loadavg_end" | "finished_at">;

/**
 * Call when a run starts, before its load runs. `result` is the results
 * file's path relative to the repository root (its entry in the manifest
 * names the covered folders).
 */
export function captureStart(result: string): ProvenanceStart {
  const entry = manifestEntry(result);
  const changed = git(["status", "--porcelain", "--untracked-files=all"])
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      // "XY path", or "R  old -> new" for a rename.
      const path = l.slice(3);
      const arrow = path.indexOf(" -> ");
      return arrow === -1 ? path : path.slice(arrow + 4);
    });
  const covered = new Set(coveredFiles(repoRoot, entry.covers));
  return {
    commit: git(["rev-parse", "HEAD"]),
    dirty: changed.length > 0,
    dirty_covered: changed.filter((p) => covered.has(p)),
    covers: entry.covers,
    covers_sha256: coveredHash(repoRoot, entry.covers),
    node: process.version,
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? "unknown",
    memory_gb: Math.round(totalmem() / 2 ** 30),
    loadavg_start: loadavg().map(round2),
    started_at: new Date().toISOString(),
  };
}

/** Completes a start taken by captureStart when the run ends. */
export function finishProvenance(start: ProvenanceStart): Provenance {
  return { ...start, loadavg_end: loadavg().map(round2), finished_at: new Date().toISOString() };
}

/** captureStart now, finish() when the run ends: for a run that lives in one process. */
export function startProvenance(result: string): { finish(): Provenance } {
  const start = captureStart(result);
  return { finish: () => finishProvenance(start) };
}

/** One line for a results table: "commit abc1234 (dirty), Node v24, 2 x CPU, load 0.5 -> 1.9". */
export function describeProvenance(p: Provenance): string {
  const dirty = p.dirty_covered.length > 0 ? ", uncommitted changes in the measured code" : "";
  return (
    `commit ${p.commit.slice(0, 12)}${dirty}, Node ${p.node}, ${p.cpus} x ${p.cpu_model}, ` +
    `load average ${p.loadavg_start.join(" / ")} at start and ${p.loadavg_end.join(" / ")} at end, ` +
    `run ${p.started_at.slice(0, 16).replace("T", " ")} UTC`
  );
}
