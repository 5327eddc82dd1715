// Writes an image as an OCI image layout in a tar archive, with no Docker engine
// and no registry: one gzip layer, its config, a manifest, and an index whose
// `io.containerd.image.name` annotation names it, so
// `ctr -n k8s.io images import <archive>` makes it available to the kubelet.
//
// CLI (used by testenv/build.sh for the pause and nats-server images):
//   node image/oci-archive.ts --rootfs=DIR --name=REF --entrypoint='["/x"]' --user=UID:GID --out=FILE
import { createHash } from "node:crypto";
import { createWriteStream, renameSync, rmSync, statSync } from "node:fs";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { createGzip } from "node:zlib";
import { type TarEntry, tarStream } from "./tar-writer.ts";
import { treeEntries } from "./tree-entries.ts";

/** The runtime settings of an image (the `config` object of an OCI image config). */
export interface ImageConfig {
  readonly entrypoint: readonly string[];
  readonly cmd?: readonly string[];
  /** "uid:gid" */
  readonly user: string;
  readonly workingDir?: string;
  /** "NAME=value" */
  readonly env?: readonly string[];
  /** "8080/tcp" */
  readonly exposedPorts?: readonly string[];
}

export interface OciArchiveOptions {
  readonly entries: Iterable<TarEntry>;
  readonly config: ImageConfig;
  /** The image reference, chosen once the layer's digest is known (e.g. a tag derived from it). */
  readonly name: string | ((layerDiffId: string) => string);
  readonly out: string;
}

export interface OciArchive {
  readonly name: string;
  /** sha256 of the uncompressed layer, as in the config's rootfs.diff_ids. */
  readonly diffId: string;
  readonly manifestDigest: string;
  readonly out: string;
}

const EPOCH = "1970-01-01T00:00:00Z";

function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** Hashes what passes through. */
function hashing(hash: ReturnType<typeof createHash>, counter: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      counter.bytes += chunk.length;
      done(null, chunk);
    },
  });
}

/** Writes the archive to opts.out (atomically) and returns what it holds. */
export async function writeOciArchive(opts: OciArchiveOptions): Promise<OciArchive> {
  const layerPath = `${opts.out}.layer.tmp`;
  const diff = createHash("sha256");
  const compressed = createHash("sha256");
  const rawBytes = { bytes: 0 };
  const gzBytes = { bytes: 0 };
  try {
    await pipeline(
      Readable.from(tarStream(opts.entries)),
      hashing(diff, rawBytes),
      createGzip({ level: 6 }),
      hashing(compressed, gzBytes),
      createWriteStream(layerPath),
    );
    const diffId = `sha256:${diff.digest("hex")}`;
    const layerDigest = `sha256:${compressed.digest("hex")}`;
    const name = typeof opts.name === "function" ? opts.name(diffId) : opts.name;
    const c = opts.config;
    const config = Buffer.from(
      JSON.stringify({
        created: EPOCH,
        architecture: "amd64",
        os: "linux",
        config: {
          User: c.user,
          Entrypoint: c.entrypoint,
          ...(c.cmd !== undefined ? { Cmd: c.cmd } : {}),
          ...(c.env !== undefined ? { Env: c.env } : {}),
          ...(c.workingDir !== undefined ? { WorkingDir: c.workingDir } : {}),
          ...(c.exposedPorts !== undefined
            ? { ExposedPorts: Object.fromEntries(c.exposedPorts.map((p) => [p, {}])) }
            : {}),
        },
        rootfs: { type: "layers", diff_ids: [diffId] },
        history: [{ created: EPOCH, created_by: "image/oci-archive.ts" }],
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: sha256(config),
          size: config.length,
        },
        layers: [
          {
            mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
            digest: layerDigest,
            size: gzBytes.bytes,
          },
        ],
      }),
    );
    const manifestDigest = sha256(manifest);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: manifestDigest,
            size: manifest.length,
            platform: { architecture: "amd64", os: "linux" },
            annotations: {
              "io.containerd.image.name": name,
              "org.opencontainers.image.ref.name": name.slice(name.lastIndexOf(":") + 1),
            },
          },
        ],
      }),
    );
    const blob = (digest: string) => `blobs/sha256/${digest.slice("sha256:".length)}`;
    const outer: TarEntry[] = [
      { type: "data", path: "oci-layout", mode: 0o644, data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
      { type: "data", path: "index.json", mode: 0o644, data: index },
      { type: "dir", path: "blobs", mode: 0o755 },
      { type: "dir", path: "blobs/sha256", mode: 0o755 },
      { type: "data", path: blob(sha256(config)), mode: 0o644, data: config },
      { type: "data", path: blob(manifestDigest), mode: 0o644, data: manifest },
      { type: "file", path: blob(layerDigest), mode: 0o644, from: layerPath, size: statSync(layerPath).size },
    ];
    await pipeline(Readable.from(tarStream(outer)), createWriteStream(`${opts.out}.tmp`));
    renameSync(`${opts.out}.tmp`, opts.out);
    return { name, diffId, manifestDigest, out: opts.out };
  } finally {
    rmSync(layerPath, { force: true });
    rmSync(`${opts.out}.tmp`, { force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rootfs: { type: "string" },
      name: { type: "string" },
      entrypoint: { type: "string" },
      user: { type: "string" },
      out: { type: "string" },
    },
  });
  const { rootfs, name, entrypoint, user, out } = values;
  if (
    rootfs === undefined ||
    name === undefined ||
    entrypoint === undefined ||
    user === undefined ||
    out === undefined
  ) {
    throw new Error(
      "usage: oci-archive.ts --rootfs=DIR --name=REF --entrypoint=JSON --user=UID:GID --out=FILE",
    );
  }
  const archive = await writeOciArchive({
    entries: treeEntries(rootfs, ""),
    config: { entrypoint: JSON.parse(entrypoint) as string[], user },
    name,
    out,
  });
  console.log(`${archive.name} ${archive.manifestDigest} ${archive.out}`);
}

if (import.meta.main) await main();
