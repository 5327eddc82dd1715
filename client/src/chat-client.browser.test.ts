import assert from "node:assert/strict";
import { accessSync, constants } from "node:fs";
import { after, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { type Browser, chromium } from "playwright-core";
import { startDevWebServer } from "../../dev/dev-web-server.ts";
import { startTestEdge } from "../../gateway/src/edge/testing/edge-harness.ts";
import { ReplySchema } from "../../gen/chatcluster/v1/gateway_stream_pb.js";
import { needsReal } from "../../testenv/harness/index.ts";

// The SDK in real Chromium with the browser's own WebSocket, against a real edge
// (fake logic). The dev web server serves client/src and protocol/ with types stripped.
const CHROMIUM = "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
];

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

it("runs in Chromium: join, send, ack, and resume after the server closes the socket", {
  timeout: 120_000,
  skip: needsReal("Chromium (make system-packages)"),
}, async () => {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(`${CHROMIUM} not found: run \`make system-packages\` (Debian's chromium)`);
  }
  const h = await startTestEdge();
  cleanups.push(() => h.edge.close());
  const web = await startDevWebServer({
    host: "127.0.0.1",
    port: 0,
    jwtSecret: "unused",
    gatewayUrls: [h.url],
  });
  cleanups.push(() => web.close());
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  cleanups.push(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${web.url}config.json`);

  const first = await page.evaluate(async (url) => {
    // A URL on the page's origin (the dev web server), not a path on this machine.
    const sdkUrl = "/client/src/index.ts";
    const { ChatClient } = (await import(sdkUrl)) as typeof import("./index.ts");
    const w = window as unknown as Record<string, unknown>;
    const got: number[] = [];
    const c = new ChatClient({ url, token: "user:alice", backoff: { initialMs: 50, maxMs: 200 } });
    w.client = c;
    w.got = got;
    c.on("message", (m) => got.push(m.seq));
    c.join("lobby");
    c.connect();
    const ack = await c.send("lobby", { text: "from chromium" });
    return { seq: ack.seq, connectionId: c.welcome?.connection_id ?? "" };
  }, h.url);
  assert.equal(first.seq, 1);
  const seqs = () => page.evaluate(() => (window as unknown as { got: number[] }).got);
  await until("own message", async () => (await seqs()).length === 1);

  // The server closes the socket (4013 overloaded: reconnect with backoff); messages published
  // meanwhile arrive after the resume, once and in order.
  const connId = Number(first.connectionId.split("/")[1]);
  h.edge.reply([
    create(ReplySchema, {
      connectionId: connId,
      kind: { case: "close", value: { closeCode: 4013, reason: "test" } },
    }),
  ]);
  for (let i = 0; i < 5; i++) h.link.publish("lobby", "sys", `s${i}`, String(i));
  await until("resumed", async () => (await seqs()).length === 6);
  h.link.publish("lobby", "sys", "live", "7");
  await until("live again", async () => (await seqs()).length === 7);
  assert.deepEqual(await seqs(), [1, 2, 3, 4, 5, 6, 7]);
  const state = await page.evaluate(() => (window as unknown as { client: { state: string } }).client.state);
  assert.equal(state, "open");
});
