// Small helpers shared by the harness: free ports, polling, HTTP probes, artifacts.
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { afterEach } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { repoRoot } from "./paths.ts";
import type { ManagedProcess } from "./proc.ts";

/** A currently free TCP port on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr !== null && typeof addr === "object") resolve(addr.port);
        else reject(new Error("testenv: could not allocate a port"));
      });
    });
  });
}

/** Distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}

/**
 * Polls check() until it returns a value other than undefined. Fails early when
 * one of the watched processes exits, and after timeoutMs.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; watch?: ManagedProcess[] },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError = "";
  for (;;) {
    for (const p of opts.watch ?? []) {
      if (!p.running) {
        throw new StartupError(
          `testenv: ${p.name} exited (${JSON.stringify(p.exitInfo)}) while waiting for ${what}; last log lines:\n${p.logTail()}`,
        );
      }
    }
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new StartupError(
        `testenv: timed out after ${opts.timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ""}`,
      );
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

export interface HttpResult {
  status: number;
  body: string;
}

export interface TlsOptions {
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  /** false for components with self-signed serving certificates (kcm, scheduler healthz). */
  rejectUnauthorized?: boolean;
}

/** One HTTP(S) request with a short timeout; resolves with status and body. */
export function request(
  url: string,
  opts: { method?: string; body?: string; tls?: TlsOptions; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === "https:" ? https : http;
    const headers: Record<string, string> = {};
    if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(Buffer.byteLength(opts.body));
    }
    const req = mod.request(
      u,
      {
        method: opts.method ?? "GET",
        headers,
        timeout: opts.timeoutMs ?? 5000,
        agent: false,
        ...(u.protocol === "https:" ? { ...opts.tls } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout requesting ${url}`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

/**
 * Copies a logs directory to test-artifacts/testenv/<name>/ in the repository
 * (git-ignored), replacing an older copy, and returns the destination.
 */
export function keepLogs(logsDir: string, name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, "_");
  const dest = join(repoRoot, "test-artifacts", "testenv", safe);
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  if (existsSync(logsDir)) cpSync(logsDir, dest, { recursive: true, force: true });
  return dest;
}

/** A short unique suffix for names and directories. */
export function uniqueName(base: string): string {
  return `${base}-${process.pid}-${Date.now().toString(36)}`;
}

/**
 * Registers an afterEach hook (node:test) that remembers whether any test in
 * the current file/suite failed; pass the result to stop({ failed }).
 *
 *   const failed = trackFailures();
 *   after(() => cp.stop({ failed: failed() }));
 */
export function trackFailures(): () => boolean {
  let failed = false;
  afterEach((t) => {
    if ("passed" in t && !t.passed) failed = true;
  });
  return () => failed;
}

/**
 * Opens a TCP connection and closes it at once: resolves "connected", the
 * error code (ECONNREFUSED, EHOSTUNREACH...) or "timeout". For tests that check
 * what can reach what.
 */
export function tcpProbe(host: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: timeoutMs });
    s.once("connect", () => {
      s.destroy();
      resolve("connected");
    });
    s.once("timeout", () => {
      s.destroy();
      resolve("timeout");
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
  });
}
