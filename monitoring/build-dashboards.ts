import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DASHBOARDS } from "./dashboards.ts";
import { renderDashboard } from "./grafana-json.ts";

/**
 * Writes charts/chatcluster/dashboards/<uid>.json from monitoring/dashboards.ts.
 * With --check, writes nothing and exits 1 when a file differs (used by `make lint`).
 */
const OUT = fileURLToPath(new URL("../charts/chatcluster/dashboards/", import.meta.url));
const check = process.argv.includes("--check");
let stale = 0;
mkdirSync(OUT, { recursive: true });
for (const d of DASHBOARDS) {
  const path = join(OUT, `${d.uid.replace(/^chatcluster-/, "")}.json`);
  const json = `${JSON.stringify(renderDashboard(d), null, 2)}\n`;
  let current = "";
  try {
    current = readFileSync(path, "utf8");
  } catch {
    // missing: stale
  }
  if (current === json) continue;
  if (check) {
    process.stderr.write(`${path} is stale: run \`make dashboards\` and commit\n`);
    stale++;
  } else {
    writeFileSync(path, json);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
