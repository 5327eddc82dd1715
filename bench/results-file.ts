// Writes a benchmark's results file and replaces its section of bench/RESULTS.md.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./provenance/repo-root.ts";

/**
 * bench/results/<name>.json gets `result`; bench/RESULTS.md gets `lines`
 * between this benchmark's markers (appended when the file has none yet).
 */
export function writeResult(name: string, result: unknown, lines: readonly string[]): void {
  mkdirSync(join(repoRoot, "bench", "results"), { recursive: true });
  writeFileSync(join(repoRoot, "bench", "results", `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  const begin = `<!-- ${name}:begin (written by make bench-${name}; edit bench/${name}/run.ts instead) -->`;
  const end = `<!-- ${name}:end -->`;
  const section = [begin, ...lines, end].join("\n");
  const path = join(repoRoot, "bench", "RESULTS.md");
  const text = existsSync(path)
    ? readFileSync(path, "utf8")
    : "# Benchmark results\n\nEach section is written by its `make bench-*` target.\n";
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  const next =
    a !== -1 && b > a
      ? text.slice(0, a) + section + text.slice(b + end.length)
      : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
  process.stderr.write(`wrote bench/results/${name}.json and its section of bench/RESULTS.md\n`);
}
