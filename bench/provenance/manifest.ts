// Which code each committed result measures (bench/results/manifest.json).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./repo-root.ts";

export interface ResultEntry {
  /** Short name used by figure markers in docs (`<!-- fig:push:hop_p99_ms -->`). */
  readonly name: string;
  /** The result file, relative to the repository root. */
  readonly result: string;
  /** The command that writes it. */
  readonly command: string;
  /** Folders (or files) whose content the result depends on. */
  readonly covers: readonly string[];
}

export const MANIFEST_PATH = "bench/results/manifest.json";

export function readManifest(root: string = repoRoot): ResultEntry[] {
  const raw = JSON.parse(readFileSync(join(root, MANIFEST_PATH), "utf8")) as { results: ResultEntry[] };
  return raw.results;
}

/** The manifest entry named `name` (figure markers); undefined when there is none. */
export function entryByName(name: string, root: string = repoRoot): ResultEntry | undefined {
  return readManifest(root).find((x) => x.name === name);
}

/** The manifest entry of `result`; throws naming the manifest when it has none. */
export function manifestEntry(result: string, root: string = repoRoot): ResultEntry {
  const e = readManifest(root).find((x) => x.result === result);
  if (e === undefined)
    throw new Error(`${result} has no entry in ${MANIFEST_PATH}: add one naming what it covers`);
  return e;
}
