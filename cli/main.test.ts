import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Command } from "../platform/command.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../bin/chatcluster", import.meta.url));

async function chatcluster(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(BIN, args, { env: { ...process.env, CHATCLUSTER_LOG_LEVEL: "" } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  gateway: async () => (await import("../gateway/src/command.ts")).command as unknown as Command,
  logic: async () => (await import("../logic/src/command.ts")).command as unknown as Command,
  operator: async () => (await import("../operator/src/command.ts")).command as unknown as Command,
  dev: async () => (await import("../dev/command.ts")).command as unknown as Command,
};

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

describe("bin/chatcluster", () => {
  it("--help lists every subcommand", async () => {
    const { code, stdout } = await chatcluster(["--help"]);
    assert.equal(code, 0);
    for (const name of Object.keys(COMMANDS)) assert.match(stdout, new RegExp(`^${name}: `, "m"));
  });

  for (const [name, load] of Object.entries(COMMANDS)) {
    it(`${name} --help lists every flag with its environment variable and default`, async () => {
      const cmd = await load();
      const { code, stdout } = await chatcluster([name, "--help"]);
      assert.equal(code, 0);
      for (const [key, spec] of Object.entries(cmd.flags)) {
        const line = stdout.split("\n").find((l) => l.trimStart().startsWith(`--${kebab(key)} `));
        assert.ok(line, `${name} --help shows --${kebab(key)}`);
        assert.ok(line.includes(`[$${spec.env}]`), `--${kebab(key)} shows $${spec.env}`);
        assert.match(line, /\(default: .*\)/);
      }
    });

    it(`${name} refuses a bad value with one line naming the flag`, async () => {
      const { code, stderr, stdout } = await chatcluster([name, "--log-level=loud"]);
      assert.equal(code, 2);
      assert.equal(stdout, "");
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
      assert.match(stderr, /--log-level: .*"loud".*allowed: one of debug, info, warn, error, silent/);
    });
  }

  it("refuses an unknown subcommand", async () => {
    const { code, stderr } = await chatcluster(["frobnicate"]);
    assert.equal(code, 2);
    assert.match(stderr, /unknown subcommand "frobnicate"/);
  });
});
