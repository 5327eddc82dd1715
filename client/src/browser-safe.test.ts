import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

// The SDK runs in browsers straight from its sources (dev/dev-web-server.ts
// serves client/src and protocol/ with the types stripped): everything it
// loads must stay inside those trees and import neither Node built-ins nor
// packages. The Chromium test proves it for one page; this one names the
// offending import on any machine.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SERVED = ["client/src/", "protocol/"];
const IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms;

test("the client SDK loads only browser-safe sources", () => {
  const seen = new Set<string>();
  const problems: string[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const rel = relative(ROOT, file);
    if (!SERVED.some((t) => rel.startsWith(t))) problems.push(`${rel}: outside ${SERVED.join(" and ")}`);
    const source = readFileSync(file, "utf8");
    for (const m of source.matchAll(IMPORT)) {
      const spec = m[1] as string;
      if (/^import\s+type\s|^export\s+type\s/.test((m[0] as string).trim())) continue;
      if (!spec.startsWith(".")) {
        problems.push(`${rel}: imports "${spec}"`);
        continue;
      }
      visit(resolve(dirname(file), spec));
    }
  };
  visit(resolve(ROOT, "client/src/index.ts"));
  assert.deepEqual(problems, []);
  assert.ok(seen.has(resolve(ROOT, "protocol/token-bucket.ts")), "the walk follows the SDK's imports");
});
