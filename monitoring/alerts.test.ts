import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { loadYaml } from "@kubernetes/client-node";
import { needsReal } from "../testenv/harness/index.ts";

const run = promisify(execFile);
const RULES = fileURLToPath(new URL("../charts/chatcluster/files/alerts.yaml", import.meta.url));
const TESTS = fileURLToPath(new URL("./alerts.test.yaml", import.meta.url));
const RUNBOOKS = fileURLToPath(new URL("../docs/alerts.md", import.meta.url));

async function promtool(args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run("promtool", args);
    return stdout + stderr;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === "ENOENT")
      throw new Error("promtool not found: run `make system-packages` (Debian's prometheus)");
    throw new Error(`promtool ${args.join(" ")} failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

const alertNames = [...readFileSync(RULES, "utf8").matchAll(/^\s+- alert: (\S+)$/gm)].map(
  (m) => m[1] as string,
);

describe("alerting rules", { skip: needsReal("promtool (make system-packages)") }, () => {
  it("are valid rules", async () => {
    assert.match(
      await promtool(["check", "rules", RULES]),
      new RegExp(`SUCCESS: ${alertNames.length} rules found`),
    );
  });

  it("pass their promtool unit tests", async () => {
    assert.match(await promtool(["test", "rules", TESTS]), /SUCCESS/);
  });

  it("point runbook_url at the alert's section of docs/alerts.md", () => {
    const file = loadYaml<{ groups: { rules: { alert: string; annotations: Record<string, string> }[] }[] }>(
      readFileSync(RULES, "utf8"),
    );
    const rules = file.groups.flatMap((g) => g.rules);
    assert.deepEqual(
      rules.map((r) => r.annotations.runbook_url),
      rules.map((r) => `docs/alerts.md#${r.alert.toLowerCase()}`),
    );
  });

  it("every alert is unit-tested firing and has a runbook section", () => {
    const tests = readFileSync(TESTS, "utf8");
    const runbooks = readFileSync(RUNBOOKS, "utf8");
    assert.ok(alertNames.length >= 7, `found ${alertNames.length} alerts`);
    for (const name of alertNames) {
      const cases = [...tests.matchAll(new RegExp(`alertname: ${name}\\n(\\s+)exp_alerts:`, "g"))];
      assert.ok(cases.length > 0, `${name} has a test case where it fires`);
      assert.match(runbooks, new RegExp(`^## ${name}$`, "m"), `docs/alerts.md has a "## ${name}" runbook`);
    }
  });
});
