// The call's own edge cases, against peers that are not gateways.
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { createServer, type Socket } from "node:net";
import { after, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Http2SessionManager } from "@connectrpc/connect-node";
import { StaticDiscovery } from "../discovery/index.ts";
import { OutboundQueue } from "./outbound-queue.ts";
import { runStreamCall } from "./stream-call.ts";
import { metricValue, testFleet, waitFor } from "./testing/fleet-harness.ts";

test("a peer that accepts TCP but never completes TLS is reset by the hello timeout, again and again", async (t) => {
  // The TLS handshake never ends, so the HTTP/2 stream is never opened: the
  // reset must end the call while the session is still connecting.
  const sockets = new Set<Socket>();
  const silent = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const { port } = silent.address() as { port: number };
  const { fleet, registry } = testFleet(new StaticDiscovery([`127.0.0.1:${port}`]), "logic-silent", {
    tls: { rejectUnauthorized: false },
    helloTimeoutMs: 150,
    reconnectBaseMs: 10,
    reconnectMaxMs: 20,
  });
  t.after(() => fleet.stop());
  await fleet.start();
  await waitFor("two hello timeouts", async () => {
    const text = await registry.metrics();
    return metricValue(text, "chatcluster_logic_push_reconnects_total", 'reason="hello_timeout"') >= 2;
  });
  assert.equal(fleet.connectedGateways(), 0);
});

// A raw HTTP/2 server answering each call the way a broken or foreign peer would.
type Answer = (stream: http2.ServerHttp2Stream) => void;
let answer: Answer = () => {};
const server = http2.createServer();
server.on("stream", (stream) => answer(stream));
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const sessions = new Http2SessionManager(url);
after(() => {
  sessions.abort();
  server.close();
});

async function call(a: Answer): Promise<{ err: ConnectError | undefined; messages: number }> {
  answer = a;
  let messages = 0;
  const queue = new OutboundQueue({
    maxMessages: 10,
    maxBytes: 10_000,
    replyReserveBytes: 0,
    maxBatchMessages: 10,
    maxBatchBytes: 10_000,
  });
  try {
    await runStreamCall({
      sessions,
      headers: {},
      queue,
      maxInboundBytes: 1000,
      signal: new AbortController().signal,
      onMessage: () => messages++,
    });
    return { err: undefined, messages };
  } catch (err) {
    return { err: ConnectError.from(err), messages };
  }
}

const grpcHeaders = { ":status": 200, "content-type": "application/grpc+proto" };

test("a clean end with grpc-status 0 resolves; a status in trailers rejects with it", async () => {
  const ok = await call((s) => {
    s.respond(grpcHeaders, { waitForTrailers: true });
    s.on("wantTrailers", () => s.sendTrailers({ "grpc-status": "0" }));
    s.end(Buffer.from([0, 0, 0, 0, 1, 7]));
  });
  assert.deepEqual(ok, { err: undefined, messages: 1 });
  const failed = await call((s) => {
    s.respond(grpcHeaders, { waitForTrailers: true });
    s.on("wantTrailers", () => s.sendTrailers({ "grpc-status": "8", "grpc-message": "full" }));
    s.end();
  });
  assert.equal(failed.err?.code, Code.ResourceExhausted);
  assert.equal(failed.err?.rawMessage, "full");
});

test("a foreign or broken answer is an error, never a clean end", async () => {
  const notGrpc = await call((s) => {
    s.respond({ ":status": 200, "content-type": "text/html" });
    s.end("<html>");
  });
  assert.equal(notGrpc.err?.code, Code.Internal);
  assert.match(notGrpc.err?.rawMessage ?? "", /not a gRPC response/);

  const noStatus = await call((s) => {
    s.respond(grpcHeaders, { waitForTrailers: true });
    s.on("wantTrailers", () => s.sendTrailers({ "x-other": "1" }));
    s.end();
  });
  assert.equal(noStatus.err?.code, Code.Internal);
  assert.match(noStatus.err?.rawMessage ?? "", /without grpc-status/);

  const truncated = await call((s) => {
    s.respond(grpcHeaders, { waitForTrailers: true });
    s.on("wantTrailers", () => s.sendTrailers({ "grpc-status": "0" }));
    s.end(Buffer.from([0, 0, 0, 0, 9, 1, 2])); // announces 9 bytes, carries 2
  });
  assert.equal(truncated.err?.code, Code.Internal);
  assert.match(truncated.err?.rawMessage ?? "", /inside a message/);
});
