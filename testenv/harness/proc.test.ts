// The harness never leaves orphans: component process groups die with the test
// process, whether it exits, is signalled, or is SIGKILLed. Needs no binaries.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { binaryPath, TestenvBinaryNotFoundError } from "./paths.ts";
import { groupAlive, startProcess } from "./proc.ts";

const procUrl = pathToFileURL(join(import.meta.dirname, "proc.ts")).href;

async function waitGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!groupAlive(pgid)) return true;
    await sleep(50);
  }
  return !groupAlive(pgid);
}

/** Starts a node process that starts `sleep 300` through the harness and reports its pgid. */
async function childWithComponent(dir: string): Promise<{ pid: number; pgid: number }> {
  const script = `
    import { startProcess } from ${JSON.stringify(procUrl)};
    const p = startProcess({ name: "sleep", command: "sleep", args: ["300"], logPath: ${JSON.stringify(join(dir, "sleep.log"))} });
    console.log(p.pid);
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve(d.toString().trim()));
    child.once("exit", (code) => reject(new Error(`child exited early (${code})`)));
  });
  const pgid = Number(line);
  assert.ok(pgid > 0 && groupAlive(pgid), `component group ${line} is running`);
  return { pid: child.pid ?? 0, pgid };
}

for (const sig of ["SIGKILL", "SIGTERM", "SIGINT"] as const) {
  test(`components die when the test process gets ${sig}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "testenv-proc-"));
    try {
      const { pid, pgid } = await childWithComponent(dir);
      process.kill(pid, sig);
      assert.ok(await waitGone(pgid, 8000), `process group ${pgid} still alive after ${sig} to its owner`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("stop() takes the whole group down and reports the exit", async () => {
  const dir = mkdtempSync(join(tmpdir(), "testenv-proc-"));
  try {
    const p = startProcess({
      name: "sh",
      command: "sh",
      args: ["-c", "sleep 300 & sleep 300"],
      logPath: join(dir, "sh.log"),
    });
    await sleep(100);
    assert.ok(p.running);
    await p.stop();
    assert.equal(p.running, false);
    assert.equal(groupAlive(p.pid), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a missing binary fails with one line saying what to run", () => {
  const dir = mkdtempSync(join(tmpdir(), "testenv-empty-bin-"));
  const saved = process.env.CHATCLUSTER_TESTENV_BIN_DIR;
  process.env.CHATCLUSTER_TESTENV_BIN_DIR = dir;
  try {
    assert.throws(
      () => binaryPath("kube-apiserver"),
      (err: unknown) => {
        assert.ok(err instanceof TestenvBinaryNotFoundError);
        assert.equal(err.message, `kube-apiserver not found in ${dir}: run \`make testenv\``);
        assert.equal(err.binary, "kube-apiserver");
        return true;
      },
    );
  } finally {
    if (saved === undefined) delete process.env.CHATCLUSTER_TESTENV_BIN_DIR;
    else process.env.CHATCLUSTER_TESTENV_BIN_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});
