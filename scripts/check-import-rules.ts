// Fails when a source file imports across a boundary the layout forbids
// (docs/development.md, "Map of the house"): the workloads never import each
// other, the SDK only the shared protocol, the shared folders nothing of the
// workloads, and no shipped code imports a `testing/` folder. Tooling (bench,
// reliability, monitoring, testenv, charts, scripts) may import anything.
// Run by `make lint`.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SKIP = new Set(["node_modules", "gen", "tools", "dist", ".git"]);
// Static imports and re-exports, side-effect imports, and dynamic import() of a relative path.
const IMPORT = /(?:^\s*(?:import|export)\s[^;]*?from\s+|^\s*import\s+|import\(\s*)"(\.[^"]+\.(?:ts|js))"/gms;

/** Each shipped folder and the folders it may import (besides itself). Longest prefix wins. */
export const RULES: readonly { readonly area: string; readonly may: readonly string[] }[] = [
  { area: "platform/", may: [] },
  { area: "protocol/", may: [] },
  { area: "client/src/", may: ["protocol/"] },
  { area: "gateway/src/", may: ["protocol/", "platform/", "gen/"] },
  { area: "logic/src/", may: ["protocol/", "platform/", "gen/"] },
  { area: "operator/src/", may: ["protocol/", "platform/", "gen/"] },
  // gen/: the example hooks service (dev/hooks-example.ts) serves chatcluster.v1.ChatHooks as a team's would.
  { area: "dev/", may: ["platform/", "protocol/", "gen/", "testenv/harness/"] },
  // The one executable dispatches to each workload's command module.
  { area: "cli/", may: ["platform/", "gateway/src/", "logic/src/", "operator/src/", "dev/"] },
];

function sources(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name) || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

const isTest = (rel: string) => rel.endsWith(".test.ts") || rel.includes("/testing/");

const problems: string[] = [];
for (const file of sources(ROOT, [])) {
  const rel = relative(ROOT, file);
  const rule = RULES.filter((r) => rel.startsWith(r.area)).sort((a, b) => b.area.length - a.area.length)[0];
  if (rule === undefined || isTest(rel)) continue; // tooling, or a test of the area
  for (const m of readFileSync(file, "utf8").matchAll(IMPORT)) {
    const target = relative(ROOT, resolve(dirname(file), m[1] as string));
    if (target.includes("/testing/")) {
      problems.push(`${rel} imports ${target}: shipped code never imports a testing/ folder`);
      continue;
    }
    if (target.startsWith(rule.area) || rule.may.some((p) => target.startsWith(p))) continue;
    problems.push(
      `${rel} imports ${target}: ${rule.area} may import only ${[rule.area, ...rule.may].join(", ")}`,
    );
  }
}

if (problems.length > 0) {
  process.stderr.write(
    `Import rules (docs/development.md, "Map of the house"):\n  ${problems.join("\n  ")}\n`,
  );
  process.exit(1);
}
