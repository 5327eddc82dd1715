// The testenv binaries exist (else: one clear line saying to run `make testenv`)
// and report exactly the versions pinned in testenv/versions.env; the images
// built with them name the versions too.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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
    for (const name of ["kube-scheduler", "kubelet", "kube-proxy"] as const) {
      assert.match(
        await output(name, ["--version"]),
        new RegExp(`^Kubernetes ${v.KUBERNETES_VERSION}$`, "m"),
      );
    }
    assert.match(
      await output("coredns", ["-version"]),
      new RegExp(`^CoreDNS-${v.COREDNS_VERSION?.slice(1)}$`, "m"),
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

/** Component keys of a copy of testenv/build.sh with versions.env (and a recipe) edited. */
function keysOf(edit: {
  versions?: (text: string) => string;
  script?: (text: string) => string;
}): Map<string, string> {
  const root = mkdtempSync(join(tmpdir(), "cc-build-keys-"));
  try {
    mkdirSync(join(root, "testenv"));
    mkdirSync(join(root, "image"));
    const here = import.meta.dirname;
    const script = readFileSync(join(here, "build.sh"), "utf8");
    const versions = readFileSync(join(here, "versions.env"), "utf8");
    writeFileSync(join(root, "testenv", "build.sh"), edit.script?.(script) ?? script);
    writeFileSync(join(root, "testenv", "versions.env"), edit.versions?.(versions) ?? versions);
    copyFileSync(join(here, "..", "image", "oci-archive.ts"), join(root, "image", "oci-archive.ts"));
    const out = execFileSync("bash", [join(root, "testenv", "build.sh"), "--print-keys"], {
      encoding: "utf8",
    });
    return new Map(
      out
        .trim()
        .split("\n")
        .map((l) => l.split(" ") as [string, string]),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function changed(a: Map<string, string>, b: Map<string, string>): string[] {
  return [...a.keys()].filter((k) => a.get(k) !== b.get(k)).sort();
}

describe("testenv cache keys", () => {
  const base = keysOf({});

  test("a version change rebuilds only the components that use it (and what depends on them)", () => {
    const bump = (name: string) => (text: string) =>
      text.replace(new RegExp(`^${name}=v`, "m"), `${name}=v9`);
    assert.deepEqual(changed(base, keysOf({ versions: bump("COREDNS_VERSION") })), ["coredns"]);
    assert.deepEqual(changed(base, keysOf({ versions: bump("HELM_VERSION") })), ["helm"]);
    assert.deepEqual(changed(base, keysOf({ versions: bump("KUBERNETES_VERSION") })), [
      "kube",
      "pause-image",
    ]);
    assert.deepEqual(changed(base, keysOf({ versions: bump("NATS_SERVER_VERSION") })), [
      "nats-image",
      "nats-server",
    ]);
  });

  test("a comment in versions.env rebuilds nothing; a recipe change rebuilds its component", () => {
    assert.deepEqual(changed(base, keysOf({ versions: (t) => `${t}# a comment\n` })), []);
    const recipe = (t: string) => t.replace("build_etcd() {\n", "build_etcd() {\n  : changed\n");
    assert.deepEqual(changed(base, keysOf({ script: recipe })), ["etcd"]);
  });

  test("a warm `make testenv` only checks the cache", {
    skip: needsReal("`make testenv`"),
  }, () => {
    const out = execFileSync("bash", [join(import.meta.dirname, "build.sh"), "--check"], {
      encoding: "utf8",
    });
    assert.match(out, /^testenv: up to date \(/);
  });
});
