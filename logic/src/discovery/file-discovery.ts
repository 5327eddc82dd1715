import { EventEmitter } from "node:events";
import { type FSWatcher, watch } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import {
  type Discovery,
  type DiscoveryEvents,
  type GatewayEndpoint,
  parseEndpoints,
  sameEndpoints,
} from "./discovery.ts";

export interface FileDiscoveryOptions {
  /** File with one gateway per line (`host:port`, a URL or `id=address`; `#` comments). */
  path: string;
  /**
   * Stat interval in milliseconds. fs.watch misses events on some filesystems
   * (network mounts, ConfigMap symlink swaps) so a cheap periodic stat backs it.
   * Default 1000.
   */
  pollIntervalMs?: number;
}

const DEFAULT_POLL_INTERVAL_MS = 1000;

/**
 * Gateways listed in a file, re-read when it changes. The directory is watched
 * rather than the file so that editors and Kubernetes ConfigMap updates, which
 * replace the file by rename, are seen. A missing file means no gateways; an
 * unparsable file keeps the previous set and emits "error".
 */
export class FileDiscovery extends EventEmitter<DiscoveryEvents> implements Discovery {
  readonly #path: string;
  readonly #pollIntervalMs: number;
  #current: readonly GatewayEndpoint[] = [];
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastStamp = "";
  #reading: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(opts: FileDiscoveryOptions) {
    super();
    this.#path = opts.path;
    this.#pollIntervalMs = opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.#reload();
    try {
      const name = basename(this.#path);
      this.#watcher = watch(dirname(this.#path), { persistent: false }, (_event, file) => {
        if (file === null || file === name || file.toString().startsWith("..")) this.#schedule();
      });
      this.#watcher.on("error", () => {
        // The poll below keeps working; a dead watcher is not fatal.
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch {
      // The directory may not exist yet; polling covers it.
    }
    this.#timer = setInterval(() => this.#poll(), this.#pollIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#reading;
  }

  endpoints(): readonly GatewayEndpoint[] {
    return this.#current;
  }

  #poll(): void {
    stat(this.#path).then(
      (s) => {
        if (`${s.mtimeMs}:${s.size}:${s.ino}` !== this.#lastStamp) this.#schedule();
      },
      () => {
        if (this.#lastStamp !== "missing") this.#schedule();
      },
    );
  }

  /** Coalesces bursts of watch events into at most one read in flight plus one after it. */
  #schedule(): void {
    if (this.#stopped) return;
    if (this.#reading !== undefined) {
      this.#again = true;
      return;
    }
    this.#reading = this.#reload().finally(() => {
      this.#reading = undefined;
      if (this.#again) {
        this.#again = false;
        this.#schedule();
      }
    });
  }

  async #reload(): Promise<void> {
    let next: readonly GatewayEndpoint[];
    try {
      const s = await stat(this.#path);
      this.#lastStamp = `${s.mtimeMs}:${s.size}:${s.ino}`;
      next = Object.freeze(parseEndpoints((await readFile(this.#path, "utf8")).split("\n")));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code !== "ENOENT") {
        if (!this.#stopped) this.emit("error", e instanceof Error ? e : new Error(String(e)));
        return;
      }
      this.#lastStamp = "missing";
      next = Object.freeze([]);
    }
    if (this.#stopped || sameEndpoints(this.#current, next)) return;
    this.#current = next;
    this.emit("change", next);
  }
}
