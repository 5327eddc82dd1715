// A deterministic tar stream: entries in the order given, every timestamp 0,
// owner and group 0 unless set, modes normalised by the caller. POSIX ustar
// headers, with a PAX extended header for names or link targets longer than
// the ustar fields hold (Go's archive/tar, which containerd uses, reads both).
import { closeSync, openSync, readSync } from "node:fs";

/** A regular file copied from this machine. */
export interface FileEntry {
  type: "file";
  path: string;
  mode: number;
  from: string;
  size: number;
  uid?: number;
  gid?: number;
}

export type TarEntry =
  | { type: "dir"; path: string; mode: number; uid?: number; gid?: number }
  | FileEntry
  | { type: "data"; path: string; mode: number; data: Buffer; uid?: number; gid?: number }
  | { type: "symlink"; path: string; target: string };

const BLOCK = 512;
const COPY_CHUNK = 1 << 20;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function header(o: {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  typeflag: string;
  linkname?: string;
  prefix?: string;
}): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(o.name, 0, 100, "utf8");
  h.write(octal(o.mode & 0o7777, 8), 100, "ascii");
  h.write(octal(o.uid, 8), 108, "ascii");
  h.write(octal(o.gid, 8), 116, "ascii");
  h.write(octal(o.size, 12), 124, "ascii");
  h.write(octal(0, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(o.typeflag, 156, "ascii");
  if (o.linkname !== undefined) h.write(o.linkname, 157, 100, "utf8");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  if (o.prefix !== undefined) h.write(o.prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return h;
}

/** Splits a path into ustar prefix and name, or returns undefined when it does not fit. */
function ustarName(path: string): { name: string; prefix?: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { name: path };
  for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== "") {
      return { name, prefix };
    }
  }
  return undefined;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** A PAX record: "<len> <key>=<value>\n", where <len> counts the whole record. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len++;
  return `${len}${body}`;
}

function* paxHeader(path: string, records: Record<string, string>): Generator<Buffer> {
  const data = Buffer.from(
    Object.entries(records)
      .map(([k, v]) => paxRecord(k, v))
      .join(""),
  );
  const name = `PaxHeaders/${path.split("/").pop() ?? "x"}`.slice(0, 100);
  yield header({ name, mode: 0o644, uid: 0, gid: 0, size: data.length, typeflag: "x" });
  yield data;
  yield padding(data.length);
}

/** The bytes of one entry: header(s), content, padding. */
function* entryBlocks(e: TarEntry): Generator<Buffer> {
  const path = e.type === "dir" ? `${e.path.replace(/\/$/, "")}/` : e.path;
  const fit = ustarName(path);
  const target = e.type === "symlink" ? e.target : undefined;
  const pax: Record<string, string> = {};
  if (fit === undefined) pax.path = path;
  if (target !== undefined && Buffer.byteLength(target) > 100) pax.linkpath = target;
  if (Object.keys(pax).length > 0) yield* paxHeader(path, pax);
  const names = fit ?? { name: path.slice(0, 100) };
  const owner = e.type === "symlink" ? { uid: 0, gid: 0 } : { uid: e.uid ?? 0, gid: e.gid ?? 0 };
  switch (e.type) {
    case "dir":
      yield header({ ...names, ...owner, mode: e.mode, size: 0, typeflag: "5" });
      return;
    case "symlink":
      yield header({ ...names, ...owner, mode: 0o777, size: 0, typeflag: "2", linkname: target });
      return;
    case "data":
      yield header({ ...names, ...owner, mode: e.mode, size: e.data.length, typeflag: "0" });
      yield e.data;
      yield padding(e.data.length);
      return;
    case "file": {
      yield header({ ...names, ...owner, mode: e.mode, size: e.size, typeflag: "0" });
      const fd = openSync(e.from, "r");
      try {
        let left = e.size;
        while (left > 0) {
          const chunk = Buffer.allocUnsafe(Math.min(COPY_CHUNK, left));
          const n = readSync(fd, chunk, 0, chunk.length, null);
          if (n === 0) throw new Error(`tar: ${e.from} shrank while being archived`);
          left -= n;
          yield n === chunk.length ? chunk : chunk.subarray(0, n);
        }
      } finally {
        closeSync(fd);
      }
      yield padding(e.size);
      return;
    }
  }
}

/** The whole archive as a stream of buffers, ending with the two zero blocks. */
export function* tarStream(entries: Iterable<TarEntry>): Generator<Buffer> {
  for (const e of entries) yield* entryBlocks(e);
  yield Buffer.alloc(BLOCK * 2);
}
