// The testenv binaries exist (else: one clear line saying to run `make testenv`)
// and report exactly the versions pinned in testenv/versions.env.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { BINARY_NAMES, type BinaryName, binaryPath, needsReal } from "./harness/index.ts";

const run = promisify(execFile);

function pinned(): Record<string, string> {
  const text = readFileSync(join(import.meta.dirname, "versions.env"), "utf8");
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(\S+)\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

async function output(name: BinaryName, args: string[]): Promise<string> {
  const { stdout, stderr } = await run(binaryPath(name), args);
  return `${stdout}${stderr}`;
}

describe("testenv binaries", { skip: needsReal("the testenv binaries (make testenv)") }, () => {
  test("every binary is built", () => {
    for (const name of BINARY_NAMES) binaryPath(name);
  });

  test("versions match testenv/versions.env", async () => {
    const v = pinned();
    assert.match(
      await output("kube-apiserver", ["--version"]),
      new RegExp(`^Kubernetes ${v.KUBERNETES_VERSION}$`, "m"),
    );
    assert.match(
      await output("kube-controller-manager", ["--version"]),
      new RegExp(`^Kubernetes ${v.KUBERNETES_VERSION}$`, "m"),
    );
    assert.match(
      await output("kube-scheduler", ["--version"]),
      new RegExp(`^Kubernetes ${v.KUBERNETES_VERSION}$`, "m"),
    );
    assert.match(
      await output("etcd", ["--version"]),
      new RegExp(`etcd Version: ${v.ETCD_VERSION?.slice(1)}\\b`),
    );
    assert.match(await output("nats-server", ["--version"]), new RegExp(`${v.NATS_SERVER_VERSION}\\b`));
    assert.match(await output("helm", ["version", "--short"]), new RegExp(`^${v.HELM_VERSION}\\b`));
    assert.match(await output("kwok", ["--version"]), new RegExp(`${v.KWOK_VERSION?.slice(1)}\\b`));
  });
});
