// Tar entries for a directory tree on this machine, placed at a path inside the
// image. Names are sorted, so the same tree gives the same bytes; modes are
// normalised (0755 for directories and executables, 0644 for other files) so a
// developer's umask never reaches the image.
import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import type { FileEntry, TarEntry } from "./tar-writer.ts";

/** Every parent directory of `path` (e.g. "usr", "usr/local" for "usr/local/bin"), outermost first. */
export function parentDirs(path: string): string[] {
  const parts = path.split("/").filter((p) => p !== "");
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/"));
}

/** A regular file from this machine at `path` in the image. */
export function fileEntry(path: string, from: string): FileEntry {
  const st = lstatSync(from);
  if (!st.isFile()) throw new Error(`image: ${from} is not a regular file`);
  return { type: "file", path, from, size: st.size, mode: (st.mode & 0o111) !== 0 ? 0o755 : 0o644 };
}

/**
 * `dir` and everything below it, at `path` in the image (without the parents of
 * `path`); with path "" the contents of `dir` become the image's root.
 */
export function* treeEntries(dir: string, path: string): Generator<TarEntry> {
  if (path !== "") yield { type: "dir", path, mode: 0o755 };
  const names = readdirSync(dir).sort();
  for (const name of names) {
    const from = join(dir, name);
    const to = path === "" ? name : `${path}/${name}`;
    const st = lstatSync(from);
    if (st.isDirectory()) yield* treeEntries(from, to);
    else if (st.isSymbolicLink()) yield { type: "symlink", path: to, target: readlinkSync(from) };
    else if (st.isFile()) yield fileEntry(to, from);
    // Sockets, fifos and devices have no place in an image.
  }
}
