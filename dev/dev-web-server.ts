import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { stripTypeScriptTypes } from "node:module";
import type { AddressInfo } from "node:net";
import { extname, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { DevTokenError, signDevToken } from "./dev-token.ts";

/**
 * The local stack's web server: the demo chat page, a development-only token
 * endpoint, and the client SDK served straight from its TypeScript sources with
 * the types stripped, so the page needs no bundler and always runs the SDK in
 * this checkout.
 */
export interface DevWebServerOptions {
  host: string;
  port: number;
  /** HS256 secret shared with the logic processes. */
  jwtSecret: string;
  /** WebSocket URLs of the gateways, offered to the page. */
  gatewayUrls: readonly string[];
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PAGE_DIR = fileURLToPath(new URL("./web/", import.meta.url));
/** Only these source trees are served to the browser. */
const SOURCE_TREES = ["client/src/", "protocol/"];
const MAX_TOKEN_REQUEST_BYTES = 1024;
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

export async function startDevWebServer(
  opts: DevWebServerOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    handle(opts, req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(opts.port, opts.host, () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host}:${port}/`,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

async function handle(opts: DevWebServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
  if (req.method === "POST" && path === "/dev/token") return token(opts, req, res);
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD, POST" }).end();
    return;
  }
  if (path === "/config.json") {
    json(res, 200, { gateways: opts.gatewayUrls });
    return;
  }
  if (path === "/" || path === "/index.html") return file(res, `${PAGE_DIR}index.html`);
  if (path === "/app.js" || path === "/style.css") return file(res, PAGE_DIR + path.slice(1));
  const rel = normalize(path.slice(1));
  if (rel.endsWith(".ts") && SOURCE_TREES.some((t) => rel.startsWith(t)) && !rel.split(sep).includes("..")) {
    const full = resolve(ROOT, rel);
    if (!full.startsWith(ROOT) || rel.endsWith(".test.ts")) return notFound(res);
    const source = await readFile(full, "utf8").catch(() => null);
    if (source === null) return notFound(res);
    res.writeHead(200, { "content-type": TYPES[".js"], "cache-control": "no-cache" });
    res.end(stripTypeScriptTypes(source, { mode: "strip" }));
    return;
  }
  notFound(res);
}

async function token(opts: DevWebServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > MAX_TOKEN_REQUEST_BYTES) return json(res, 413, { error: "request too large" });
  }
  let name: unknown;
  try {
    name = (JSON.parse(body) as { name?: unknown }).name;
  } catch {
    return json(res, 400, { error: 'want JSON {"name": "..."}' });
  }
  try {
    json(res, 200, { token: await signDevToken(opts.jwtSecret, String(name ?? "")) });
  } catch (err) {
    if (err instanceof DevTokenError) return json(res, 400, { error: err.message });
    throw err;
  }
}

async function file(res: ServerResponse, path: string): Promise<void> {
  const data = await readFile(path).catch(() => null);
  if (data === null) return notFound(res);
  res.writeHead(200, {
    "content-type": TYPES[extname(path)] ?? "application/octet-stream",
    "cache-control": "no-cache",
  });
  res.end(data);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
}
