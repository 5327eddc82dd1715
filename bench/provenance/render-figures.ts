// Figures quoted in the docs come from the results files, never typed by hand.
// A figure is written in Markdown as
//
//   <!-- fig:push:hop_p99_ms -->0.825<!-- /fig -->
//
// where `push` is a result's name in bench/results/manifest.json and
// `hop_p99_ms` a dot path into its JSON. This script rewrites every marked
// figure from the files; with --check it only reports figures that differ.
//
//   node bench/provenance/render-figures.ts [--check]
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { readManifest } from "./manifest.ts";
import { repoRoot } from "./repo-root.ts";

const FIGURE = /<!-- fig:([a-z0-9-]+):([A-Za-z0-9_.[\]-]+) -->(.*?)<!-- \/fig -->/g;

/** Markdown files that may quote figures: README, docs/, client/README.md, bench/RESULTS.md. */
function markdownFiles(): string[] {
  const out = ["README.md", "client/README.md", "bench/RESULTS.md"].map((p) => join(repoRoot, p));
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".md")) out.push(p);
    }
  };
  walk(join(repoRoot, "docs"));
  return out;
}

/** How a figure reads: integers >= 1,000 with thousands separators, everything else as recorded. */
export function formatFigure(v: unknown): string {
  if (typeof v === "number")
    return Number.isInteger(v) && Math.abs(v) >= 1000 ? v.toLocaleString("en-US") : String(v);
  if (typeof v === "string" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return v.map(formatFigure).join(" / ");
  throw new Error(`not a figure: ${JSON.stringify(v)}`);
}

function lookup(data: unknown, path: string): unknown {
  let cur: unknown = data;
  for (const key of path.split(".")) {
    if (cur === null || typeof cur !== "object" || !(key in cur)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

const check = process.argv.includes("--check");
const results = new Map<string, unknown>();
for (const e of readManifest()) {
  try {
    results.set(e.name, JSON.parse(readFileSync(join(repoRoot, e.result), "utf8")));
  } catch {
    // A missing result is check-results.ts's to report; its figures fail below.
  }
}

const problems: string[] = [];
for (const file of markdownFiles()) {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    continue;
  }
  const rel = relative(repoRoot, file);
  const next = text.replace(FIGURE, (whole, name: string, path: string, shown: string) => {
    const data = results.get(name);
    const v = data === undefined ? undefined : lookup(data, path);
    if (v === undefined) {
      problems.push(`${rel}: figure ${name}:${path} has no value in the results files`);
      return whole;
    }
    const want = formatFigure(v);
    if (want !== shown && check)
      problems.push(`${rel}: figure ${name}:${path} reads "${shown}", the result says "${want}"`);
    return `<!-- fig:${name}:${path} -->${want}<!-- /fig -->`;
  });
  if (!check && next !== text) writeFileSync(file, next);
}
if (problems.length > 0) {
  process.stderr.write(
    `${problems.map((l) => `figures: ${l}`).join("\n")}\n` +
      (check ? "figures: run `make figures` to rewrite them from the results files\n" : ""),
  );
  process.exit(1);
}
