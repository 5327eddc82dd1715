// Files taken from this machine into an image: the binaries a role needs and the
// shared libraries they load (as `ldd` reports them), each at the same path with
// every symlink on the way kept as a symlink, so the dynamic loader finds them
// where it would on the machine (Debian's merged /usr included).
import { execFileSync } from "node:child_process";
import { lstatSync, readlinkSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { TarEntry } from "./tar-writer.ts";
import { fileEntry } from "./tree-entries.ts";

/** The absolute paths of the shared libraries `binary` loads, the loader included. */
export function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync("ldd", [binary], { encoding: "utf8" });
  } catch (err) {
    // ldd exits 1 for a static binary ("not a dynamic executable").
    const e = err as { stdout?: string; stderr?: string };
    if (/not a dynamic executable/.test(`${e.stdout ?? ""}${e.stderr ?? ""}`)) return [];
    throw err;
  }
  const libs: string[] = [];
  for (const line of out.split("\n")) {
    const m = /=>\s*(\/\S+)\s+\(/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1] !== undefined) libs.push(m[1]);
    else if (/=>\s*not found/.test(line))
      throw new Error(`image: ${binary} needs a missing library: ${line.trim()}`);
  }
  return libs;
}

/**
 * Adds `path` (absolute, on this machine) to `into`, keyed by path in the image:
 * every directory and symlink on the way, then the file itself.
 */
export function addHostPath(path: string, into: Map<string, TarEntry>): void {
  const parts = path.split("/").filter((p) => p !== "");
  let current = "";
  for (let i = 0; i < parts.length; i++) {
    current = `${current}/${parts[i]}`;
    const inImage = current.slice(1);
    const st = lstatSync(current);
    if (st.isSymbolicLink()) {
      const target = readlinkSync(current);
      into.set(inImage, { type: "symlink", path: inImage, target });
      const rest = parts.slice(i + 1).join("/");
      const resolved = resolve(dirname(current), target);
      addHostPath(rest === "" ? resolved : `${resolved}/${rest}`, into);
      return;
    }
    if (st.isDirectory()) {
      if (!into.has(inImage)) into.set(inImage, { type: "dir", path: inImage, mode: 0o755 });
      continue;
    }
    if (i !== parts.length - 1) throw new Error(`image: ${current} is not a directory`);
    into.set(inImage, fileEntry(inImage, current));
  }
}

/** The binaries and the libraries they load, keyed by path in the image. */
export function hostBinaries(binaries: readonly string[], into: Map<string, TarEntry>): void {
  for (const b of binaries) {
    addHostPath(b, into);
    for (const lib of sharedLibraries(b)) addHostPath(lib, into);
  }
}
