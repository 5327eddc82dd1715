// The push stream and the edge lean on behaviour that is not in these
// libraries' public contracts. They are pinned to exact versions; this test
// fails, saying what to re-check, when an upgrade changes what we rely on.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as http2 from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { describe, test } from "node:test";
import { Http2SessionManager } from "@connectrpc/connect-node";
import { WebSocket, WebSocketServer } from "ws";

const root = new URL("../", import.meta.url);
const json = (path: string) => JSON.parse(readFileSync(new URL(path, root), "utf8"));

/** Each pin, with what depends on the package's internals (re-check it before moving the pin). */
const PINS: Record<string, string> = {
  "@connectrpc/connect":
    "findTrailerError/setTrailerStatus from protocol-grpc (logic/src/link/stream-call.ts, gateway/src/link/logic-call.ts)",
  "@connectrpc/connect-node":
    "Http2SessionManager.request()/notifyResponseByteRead()/abort() drive the hand-framed push stream (logic/src/link/stream-call.ts)",
  ws: "control frames written synchronously next to the edge's own pre-framed writes (gateway/src/edge/ws-frame.ts)",
};

describe("pinned dependencies", () => {
  test("package.json pins each to an exact version and node_modules has that version", () => {
    const pkg = json("package.json");
    for (const [name, why] of Object.entries(PINS)) {
      const want = pkg.dependencies[name] as string;
      assert.match(want, /^\d+\.\d+\.\d+$/, `${name} must be pinned to an exact version: we rely on ${why}`);
      const got = json(`node_modules/${name}/package.json`).version;
      assert.equal(got, want, `node_modules has ${name} ${got}, package.json pins ${want}: run make setup`);
    }
  });

  test("connect-node's session manager opens raw HTTP/2 streams the push stream frames by hand", async () => {
    for (const m of ["request", "notifyResponseByteRead", "abort"])
      assert.equal(
        typeof (Http2SessionManager.prototype as unknown as Record<string, unknown>)[m],
        "function",
        `Http2SessionManager.${m} is gone: ${PINS["@connectrpc/connect-node"]}`,
      );
    const server = http2.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/grpc+proto" });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const sessions = new Http2SessionManager(`http://127.0.0.1:${port}`, { pingIntervalMs: 1000 }, {});
    try {
      const stream = await sessions.request("POST", "/x", { "content-type": "application/grpc+proto" }, {});
      stream.on("error", () => {});
      assert.equal(typeof stream.write, "function", "request() no longer resolves to a node:http2 stream");
      const status = await new Promise<unknown>((resolve) =>
        stream.on("response", (h) => resolve(h[":status"])),
      );
      assert.equal(status, 200);
      stream.resume();
      await new Promise<void>((r) => stream.on("close", () => r()));
    } finally {
      sessions.abort();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test("node:http2 calls a write's callback only once its bytes no longer depend on the buffer", async () => {
    // The push stream reuses one frame buffer per stream: the next frame is
    // built into it as soon as the previous write's callback fires. If a
    // callback ever fired while nghttp2 still read the buffer, frames would be
    // corrupted. Writes of 64 KiB against a receiver that reads slowly.
    const CHUNK = 64 * 1024;
    const N = 64;
    const received: Buffer[] = [];
    const server = http2.createServer();
    server.on("stream", (stream) => {
      stream.pause();
      const t = setInterval(() => {
        stream.resume();
        setTimeout(() => stream.pause(), 2);
      }, 10);
      stream.on("data", (c: Buffer) => received.push(c));
      stream.on("end", () => {
        clearInterval(t);
        stream.respond({ ":status": 200 });
        stream.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const req = client.request({ ":method": "POST", ":path": "/" });
      const buf = Buffer.alloc(CHUNK);
      await new Promise<void>((resolve, reject) => {
        let i = 0;
        const next = () => {
          if (i === N) {
            req.end();
            resolve();
            return;
          }
          buf.fill(i & 0xff); // overwrite the buffer the previous write used
          i++;
          req.write(buf, (err) => (err ? reject(err) : next()));
        };
        next();
      });
      await new Promise<void>((r) => req.on("response", () => r()));
      const all = Buffer.concat(received);
      assert.equal(all.length, CHUNK * N);
      for (let i = 0; i < N; i++) {
        const off = i * CHUNK;
        assert.ok(
          all[off] === (i & 0xff) && all[off + CHUNK - 1] === (i & 0xff),
          `chunk ${i} was overwritten before it was sent: the push stream's buffer reuse is unsafe on ${process.version}`,
        );
      }
    } finally {
      client.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test("ws writes control frames synchronously, so pre-framed writes interleave in order", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise<void>((r) => wss.once("listening", () => r()));
    const port = (wss.address() as AddressInfo).port;
    const serverSide = new Promise<WebSocket>((r) => wss.once("connection", (ws) => r(ws)));
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    const events: string[] = [];
    client.on("message", (d) => events.push(`text:${d.toString()}`));
    client.on("ping", () => events.push("ping"));
    try {
      const ws = await serverSide;
      const socket = (ws as unknown as { _socket: Socket })._socket;
      assert.ok(socket !== undefined, `ws no longer exposes its socket as _socket: ${PINS.ws}`);
      const raw = (s: string) => Buffer.concat([Buffer.from([0x81, s.length]), Buffer.from(s)]);
      const before = socket.bytesWritten + socket.writableLength;
      socket.write(raw("a"));
      ws.ping();
      const after = socket.bytesWritten + socket.writableLength;
      assert.equal(after - before, 3 + 2, `ws.ping() did not write synchronously: ${PINS.ws}`);
      socket.write(raw("b"));
      await new Promise<void>((resolve) => {
        const check = () => (events.length >= 3 ? resolve() : setTimeout(check, 5));
        check();
      });
      assert.deepEqual(events, ["text:a", "ping", "text:b"]);
    } finally {
      client.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    }
  });
});
