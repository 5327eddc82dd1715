// Fails when the project's TypeScript sources import each other in a cycle,
// type-only imports included: a cycle means two files share one concept, or a
// type sits in the wrong file. Run by `make lint`.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SKIP = new Set(["node_modules", "gen", "tools", "dist", ".git"]);
const IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+\.ts)"/gms;

function sources(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name) || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

const files = sources(ROOT, []);
const edges = new Map<string, string[]>();
for (const file of files) {
  const deps: string[] = [];
  for (const m of readFileSync(file, "utf8").matchAll(IMPORT))
    deps.push(resolve(dirname(file), m[1] as string));
  edges.set(file, deps);
}

// Tarjan's strongly connected components; every component of more than one file is a cycle.
const index = new Map<string, number>();
const low = new Map<string, number>();
const onStack = new Set<string>();
const stack: string[] = [];
const cycles: string[][] = [];
let next = 0;
function connect(v: string): void {
  index.set(v, next);
  low.set(v, next);
  next++;
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v) ?? []) {
    if (!edges.has(w)) continue;
    if (!index.has(w)) {
      connect(w);
      low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
    } else if (onStack.has(w)) {
      low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
  }
  if (low.get(v) !== index.get(v)) return;
  const component: string[] = [];
  let w: string;
  do {
    w = stack.pop() as string;
    onStack.delete(w);
    component.push(relative(ROOT, w));
  } while (w !== v);
  if (component.length > 1) cycles.push(component.sort());
}
for (const f of files) if (!index.has(f)) connect(f);

if (cycles.length > 0) {
  console.error("import cycles (move the shared part into a file of its own):");
  for (const c of cycles) console.error(`  ${c.join(" <-> ")}`);
  process.exit(1);
}
