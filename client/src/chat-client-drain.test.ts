import assert from "node:assert/strict";
import { after, it } from "node:test";
import WebSocket from "ws";
import { startTestEdge } from "../../gateway/src/edge/testing/edge-harness.ts";
import { FakeLogic } from "../../gateway/src/edge/testing/fake-logic-link.ts";
import { ChatClient, type MessageFrame } from "./index.ts";

// Two gateway edges share one (fake) logic tier; a one-line "load balancer"
// sends every new socket to a gateway that is not draining.
type Harness = Awaited<ReturnType<typeof startTestEdge>>;
const harnesses: Harness[] = [];
const clients: ChatClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const h of harnesses) await h.edge.close();
});

async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

it("after a drain every SDK client has every message exactly once and in order", {
  timeout: 120_000,
}, async () => {
  const logic = new FakeLogic();
  const a = await startTestEdge({ closeGraceMs: 500 }, logic);
  const b = await startTestEdge({}, logic);
  harnesses.push(a, b);
  let n = 0;
  const Balanced = class extends WebSocket {
    constructor(_url: string, protocols: string | string[]) {
      const target = a.edge.notReadyReason() === null ? a : b;
      super(target.url, protocols, { localAddress: `127.0.0.${2 + (n++ % 8)}`, perMessageDeflate: false });
    }
  };
  const count = 200;
  const got: MessageFrame[][] = [];
  for (let i = 0; i < count; i++) {
    const c = new ChatClient({ url: "ws://lb/", token: `user:u${i}`, WebSocket: Balanced });
    const mine: MessageFrame[] = [];
    got.push(mine);
    c.on("message", (m) => mine.push(m));
    c.join("room");
    c.connect();
    clients.push(c);
  }
  await until(
    "all on gateway A",
    () => a.edge.stats().connections === count && clients.every((c) => c.state === "open"),
  );
  await until("all joined", () => a.link.interest.has("room"));
  await new Promise((r) => setTimeout(r, 100));

  // Publish continuously while A drains over 2 s: clients move to B at their hinted times.
  let published = 0;
  const pump = setInterval(() => {
    logic.publish("room", "sys", `m${++published}`, `{"n":${published}}`);
  }, 10);
  await a.edge.drain(2000);
  await until(
    "all back on B",
    () => b.edge.stats().connections === count && clients.every((c) => c.state === "open"),
  );
  await new Promise((r) => setTimeout(r, 200));
  clearInterval(pump);
  for (let i = 0; i < 5; i++) logic.publish("room", "sys", `tail${i}`, "{}");
  const head = logic.headSeq("room");
  assert.ok(head > 100, `published ${head}`);
  await until("every client caught up", () => got.every((g) => g.length >= head));
  const want = Array.from({ length: head }, (_, i) => i + 1);
  for (const g of got)
    assert.deepEqual(
      g.map((m) => m.seq),
      want,
    );
  assert.equal(a.edge.stats().connections, 0);
});
