/**
 * Rotating the internal secret with real `chatcluster gateway` and
 * `chatcluster logic` processes, in the state a rollout passes through: pods
 * started before the rotation know only the old secret, pods started after it
 * know the new one and still the old one as the previous. Every logic process
 * must keep a stream to every gateway: gateways accept the previous secret,
 * and logic presents it to a gateway that refuses the current one. Without
 * the previous secret a new logic process is refused by an old gateway (the
 * control case).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { freePorts } from "../../../testenv/harness/util.ts";

const BIN = new URL("../../../bin/chatcluster", import.meta.url).pathname;
const OLD = "old-internal-secret-0123456789abcdef";
const NEW = "new-internal-secret-fedcba9876543210";
const JWT = "jwt-secret-for-this-test-0123456789abcdef";

interface Proc {
  name: string;
  child: ChildProcess;
  ops: number;
  log: string[];
}

describe("rotating the internal secret between real gateway and logic processes", {
  timeout: 120_000,
}, () => {
  const procs: Proc[] = [];
  let dir: string;
  const start = (name: string, args: string[], ops: number): Proc => {
    const child = spawn(BIN, [...args, `--ops-listen=127.0.0.1:${ops}`, "--log-level=info"], {
      env: { ...process.env, CHATCLUSTER_JWT_SECRET: JWT },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const p: Proc = { name, child, ops, log: [] };
    for (const s of [child.stdout, child.stderr]) s?.on("data", (b: Buffer) => p.log.push(b.toString()));
    procs.push(p);
    return p;
  };
  const metric = async (p: Proc, series: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${p.ops}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
  };
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (await check()) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}\n${procs.map((p) => `--- ${p.name}\n${p.log.join("").slice(-1500)}`).join("\n")}`,
        );
      }
      await sleep(100);
    }
  };

  let gwOld: Proc;
  let gwNew: Proc;
  let logicOld: Proc;
  let logicNew: Proc;
  let logicNoPrevious: Proc;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cc-secret-rotation-"));
    const [gOldInt, gOldClient, gOldOps, gNewInt, gNewClient, gNewOps, ...rest] = await freePorts(15);
    const gateway = (id: string, internal: number, client: number, ops: number, secrets: string[]) =>
      start(
        id,
        [
          "gateway",
          `--gateway-id=${id}`,
          `--internal-listen=127.0.0.1:${internal}`,
          `--client-listen=127.0.0.1:${client}`,
          ...secrets,
        ],
        ops,
      );
    // Started before the rotation: the old secret only.
    gwOld = gateway("gw-old", gOldInt!, gOldClient!, gOldOps!, [`--internal-secret=${OLD}`]);
    // Started during it: the new secret, and the old one as the previous.
    gwNew = gateway("gw-new", gNewInt!, gNewClient!, gNewOps!, [
      `--internal-secret=${NEW}`,
      `--internal-secret-previous=${OLD}`,
    ]);
    const gateways = `gw-old=127.0.0.1:${gOldInt},gw-new=127.0.0.1:${gNewInt}`;
    const logic = (id: string, api: number, ops: number, secrets: string[]) =>
      start(
        id,
        [
          "logic",
          `--logic-id=${id}`,
          "--store=sqlite",
          `--sqlite-data-dir=${join(dir, id)}`,
          "--discovery=static",
          `--discovery-static=${gateways}`,
          `--api-listen=127.0.0.1:${api}`,
          ...secrets,
        ],
        ops,
      );
    const [api1, ops1, api2, ops2, api3, ops3] = rest;
    logicOld = logic("logic-old", api1!, ops1!, [`--internal-secret=${OLD}`]);
    logicNew = logic("logic-new", api2!, ops2!, [
      `--internal-secret=${NEW}`,
      `--internal-secret-previous=${OLD}`,
    ]);
    // What a rollout without a previous secret would start: the control case.
    logicNoPrevious = logic("logic-no-previous", api3!, ops3!, [`--internal-secret=${NEW}`]);
  });

  after(async () => {
    for (const p of procs) p.child.kill("SIGKILL");
    await Promise.all(
      procs.map((p) => (p.child.exitCode === null ? new Promise((r) => p.child.once("exit", r)) : null)),
    );
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("keeps a stream between every logic process and every gateway of either generation", async () => {
    await until(
      "logic-old streams to both gateways",
      async () => (await metric(logicOld, "chatcluster_logic_push_connected_streams")) === 2,
    );
    await until(
      "logic-new streams to both gateways",
      async () => (await metric(logicNew, "chatcluster_logic_push_connected_streams")) === 2,
    );
    // gw-old refused logic-new's current secret once; logic-new came back with the previous one.
    assert.ok(
      (await metric(logicNew, 'chatcluster_logic_push_reconnects_total{reason="unauthenticated"}')) >= 1,
      "logic-new fell back to the previous secret after a refusal",
    );
    // gw-new admitted logic-old on the previous secret.
    assert.ok((await metric(gwNew, "chatcluster_gateway_link_previous_secret_streams_total")) >= 1);
  });

  it("without the previous secret, a logic process started after the rotation cannot reach a gateway started before it", async () => {
    await until(
      "logic-no-previous streams to gw-new",
      async () => (await metric(logicNoPrevious, "chatcluster_logic_push_connected_streams")) === 1,
    );
    await until(
      "gw-old refused it more than once",
      async () =>
        (await metric(gwOld, 'chatcluster_gateway_link_streams_rejected_total{reason="unauthenticated"}')) >=
        2,
    );
    assert.equal(await metric(logicNoPrevious, "chatcluster_logic_push_connected_streams"), 1);
    // The secrets never appear in what the processes logged.
    const text = procs.map((p) => p.log.join("")).join("\n");
    for (const secret of [OLD, NEW]) assert.ok(!text.includes(secret), "a secret leaked into the logs");
  });
});
