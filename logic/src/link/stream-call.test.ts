// The call's own edge cases, against peers that are not gateways.
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { test } from "node:test";
import { StaticDiscovery } from "../discovery/index.ts";
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
