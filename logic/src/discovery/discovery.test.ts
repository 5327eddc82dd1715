import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { GatewayEndpoint } from "./discovery.ts";
import { FileDiscovery, parseEndpoint, StaticDiscovery } from "./index.ts";

test("endpoints parse as host:port, URL or id=address", () => {
  assert.deepEqual(parseEndpoint("10.0.0.1:7001"), { id: "10.0.0.1:7001", address: "10.0.0.1:7001" });
  assert.deepEqual(parseEndpoint(" gw-0 = https://gw-0.gw:7001 "), {
    id: "gw-0",
    address: "https://gw-0.gw:7001",
    gatewayId: "gw-0",
  });
  assert.deepEqual(parseEndpoint("[::1]:7001")?.address, "[::1]:7001");
  assert.equal(parseEndpoint("# comment"), null);
  assert.equal(parseEndpoint("   "), null);
  assert.throws(() => parseEndpoint("no-port"), /want host:port/);
});

test("static discovery reports its list once", async () => {
  const d = new StaticDiscovery(["a:1", "b:2", "a:1"]);
  const seen: (readonly GatewayEndpoint[])[] = [];
  d.on("change", (e) => seen.push(e));
  await d.start();
  assert.equal(seen.length, 1);
  assert.equal(d.endpoints().length, 2);
});

test("file discovery follows writes and rename-replace, and survives a bad file", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "cc-file-discovery-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "gateways");
  const d = new FileDiscovery({ path, pollIntervalMs: 50 });
  const errors: Error[] = [];
  d.on("error", (e) => errors.push(e));
  await d.start();
  t.after(() => d.stop());
  assert.deepEqual(d.endpoints(), [], "a missing file is an empty set");
  const changed = () => new Promise<readonly GatewayEndpoint[]>((resolve) => d.once("change", resolve));
  let next = changed();
  writeFileSync(path, "a:1\n");
  assert.deepEqual(
    (await next).map((e) => e.id),
    ["a:1"],
  );
  next = changed();
  writeFileSync(join(dir, "tmp"), "a:1\nb:2\n");
  renameSync(join(dir, "tmp"), path);
  assert.deepEqual(
    (await next).map((e) => e.id),
    ["a:1", "b:2"],
  );
  writeFileSync(path, "not an endpoint\n");
  const deadline = Date.now() + 5000;
  while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(errors.length > 0, "a bad file emits error");
  assert.equal(d.endpoints().length, 2, "and keeps the previous set");
});
