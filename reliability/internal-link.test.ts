// The internal link between real `chatcluster gateway` and `chatcluster logic`
// processes, secured the way a cluster runs it: TLS both ways (each end
// checks the other's CA and name) with the shared secret as a second factor.
// Intruders are refused and counted, logic refuses a gateway that is not the
// one it expects, a rotation of every certificate to a new CA (a Kubernetes
// Secret volume's symlink swap) is picked up without dropping the push
// stream, and a process that would run the link unsecured refuses to start.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import {
  copyFileSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Code } from "@connectrpc/connect";
import { ChatClient } from "../client/src/index.ts";
import { signDevToken } from "../dev/dev-token.ts";
import { freePortBlock } from "../dev/free-port-block.ts";
import { ProcessSupervisor, type SupervisedProcess } from "../dev/process-supervisor.ts";
import { rawHello, rawLogicStream } from "../gateway/src/link/testing/raw-logic-stream.ts";
import { SECRET_HEADER } from "../protocol/push-stream/index.ts";
import { createCa, issueCert, type TestCa, type TestCert } from "../testenv/harness/certs.ts";
import { until } from "./load-driver.ts";
import { recordResult } from "./results.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../bin/chatcluster", import.meta.url));
const CLI = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
/** The names a ChatCluster `demo` in namespace `chat` gives its tiers' certificates. */
const GATEWAY_NAME = "gateway.chat.demo.chatcluster.internal";
const LOGIC_NAME = "logic.chat.demo.chatcluster.internal";
const SECRET = randomBytes(24).toString("hex");
const JWT_SECRET = randomBytes(32).toString("hex");

/**
 * Writes files the way the kubelet updates a Secret volume: into a new
 * timestamped directory, then `..data` is swapped to it by an atomic rename
 * and the old directory removed; the visible names are symlinks through
 * `..data`, so their inodes never change.
 */
function writeSecretVolume(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const version = `..${Date.now()}_${randomBytes(4).toString("hex")}`;
  mkdirSync(join(dir, version));
  for (const [name, from] of Object.entries(files)) copyFileSync(from, join(dir, version, name));
  let previous: string | undefined;
  try {
    previous = readlinkSync(join(dir, "..data"));
  } catch {
    // The first write.
  }
  symlinkSync(version, join(dir, "..data_tmp"));
  renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
  for (const name of Object.keys(files)) {
    try {
      lstatSync(join(dir, name));
    } catch {
      symlinkSync(join("..data", name), join(dir, name));
    }
  }
  if (previous !== undefined) rmSync(join(dir, previous), { recursive: true, force: true });
}

function bundle(path: string, ...cas: TestCa[]): string {
  writeFileSync(path, Buffer.concat(cas.map((ca) => readFileSync(ca.caCert))));
  return path;
}

async function metric(address: string, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`http://${address}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels !== "" && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

async function eventually(what: string, cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function chatcluster(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(BIN, args, {
      env: { ...process.env, CHATCLUSTER_JWT_SECRET: JWT_SECRET, CHATCLUSTER_LOG_LEVEL: "" },
    });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

describe("the internal link between real processes, TLS both ways", { timeout: 240_000 }, () => {
  let dir: string;
  let base: number;
  const output: string[] = [];
  const supervisor = new ProcessSupervisor((line) => output.push(line));
  let gateways: SupervisedProcess[] = [];
  let caA: TestCa;
  let caB: TestCa;
  const certs: Record<string, TestCert> = {};
  const ops = (role: "gateway" | "logic", i: number) =>
    `127.0.0.1:${base + (role === "gateway" ? 30 : 50) + i}`;
  const internal = (i: number) => `127.0.0.1:${base + 20 + i}`;
  const clientUrl = (i: number) => `ws://127.0.0.1:${base + 10 + i}/`;
  const volume = (name: string) => join(dir, "volumes", name);
  const gatewayArgs = (i: number) => [
    "--disable-warning=ExperimentalWarning",
    CLI,
    "gateway",
    `--gateway-id=gateway-${i}`,
    `--client-listen=127.0.0.1:${base + 10 + i}`,
    `--internal-listen=${internal(i)}`,
    `--ops-listen=${ops("gateway", i)}`,
    `--internal-tls-cert=${volume(`gateway-${i}`)}/tls.crt`,
    `--internal-tls-key=${volume(`gateway-${i}`)}/tls.key`,
    `--internal-tls-ca=${volume(`gateway-${i}`)}/ca.crt`,
    `--internal-tls-client-name=${LOGIC_NAME}`,
    "--internal-tls-reload-interval=200ms",
  ];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "cc-internal-link-"));
    base = await freePortBlock();
    caA = await createCa(dir, "ca-a");
    caB = await createCa(dir, "ca-b");
    const issue = (name: string, ca: TestCa, dns: string, usage: "server" | "client") =>
      issueCert(dir, name, ca, { dns: [dns], usage }).then((c) => {
        certs[name] = c;
      });
    await Promise.all([
      issue("gateway-a", caA, GATEWAY_NAME, "server"),
      issue("gateway-b", caB, GATEWAY_NAME, "server"),
      issue("gateway-imposter", caA, "gateway.other.demo.chatcluster.internal", "server"),
      issue("logic-a", caA, LOGIC_NAME, "client"),
      issue("logic-b", caB, LOGIC_NAME, "client"),
      issue("logic-wrong-name", caA, "logic.other.demo.chatcluster.internal", "client"),
    ]);
    const c = certs as Record<string, TestCert>;
    const a = bundle(join(dir, "bundle-a.pem"), caA);
    const tls = (cert: TestCert, ca: string) => ({ "tls.crt": cert.cert, "tls.key": cert.key, "ca.crt": ca });
    writeSecretVolume(volume("gateway-0"), tls(c["gateway-a"] as TestCert, a));
    writeSecretVolume(volume("gateway-1"), tls(c["gateway-imposter"] as TestCert, a));
    writeSecretVolume(volume("logic-0"), tls(c["logic-a"] as TestCert, a));
    const node = process.execPath;
    gateways = [0, 1].map((i) =>
      supervisor.start({
        name: `gateway-${i}`,
        command: node,
        args: gatewayArgs(i),
        // Secrets through the environment, never the command line (visible in `ps`).
        env: { CHATCLUSTER_INTERNAL_SECRET: SECRET },
      }),
    );
    supervisor.start({
      name: "logic-0",
      command: node,
      args: [
        "--disable-warning=ExperimentalWarning",
        CLI,
        "logic",
        "--logic-id=logic-0",
        "--store=sqlite",
        `--sqlite-data-dir=${join(dir, "sqlite")}`,
        "--discovery=static",
        `--discovery-static=gateway-0=${internal(0)},gateway-1=${internal(1)}`,
        "--internal-tls",
        `--internal-tls-ca=${volume("logic-0")}/ca.crt`,
        `--internal-tls-cert=${volume("logic-0")}/tls.crt`,
        `--internal-tls-key=${volume("logic-0")}/tls.key`,
        `--internal-tls-server-name=${GATEWAY_NAME}`,
        "--internal-tls-reload-interval=200ms",
        `--api-listen=127.0.0.1:${base + 40}`,
        `--ops-listen=${ops("logic", 0)}`,
      ],
      env: { CHATCLUSTER_JWT_SECRET: JWT_SECRET, CHATCLUSTER_INTERNAL_SECRET: SECRET },
    });
    await eventually(
      "logic's stream to gateway-0",
      async () =>
        (await metric(ops("logic", 0), "chatcluster_logic_push_connected_streams").catch(() => 0)) === 1,
      60_000,
    );
  });
  after(async () => {
    await supervisor.stop(5000);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const record = (n: number, fault: string, outcome: string, startedAt: number) =>
    recordResult({
      id: `internal-link-${n}`,
      kind: "security",
      load:
        n === 4 ? "an SDK client sending 40 messages through the link" : "real gateway and logic processes",
      fault,
      outcome,
      lost: null,
      durationMs: Date.now() - startedAt,
    });

  it("a gateway or logic process with neither TLS nor the secret refuses to start, in one line", async () => {
    const startedAt = Date.now();
    const ports = [
      "--client-listen=127.0.0.1:0",
      "--internal-listen=127.0.0.1:0",
      "--ops-listen=127.0.0.1:0",
    ];
    const refused = [
      ["gateway", ...ports],
      ["logic", "--discovery-static=127.0.0.1:1"],
    ];
    for (const args of refused) {
      const { code, stderr } = await chatcluster(args);
      assert.equal(code, 2, `${args.join(" ")}: exit code`);
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
      assert.match(
        stderr,
        /^chatcluster (gateway|logic): --insecure-internal: refusing to run the internal link with neither TLS \(.*\) nor a shared secret \(--internal-secret\)/,
      );
      assert.match(stderr, /pass --insecure-internal/);
    }
    // With the waiver, or with one of the two, the gateway starts and says what its port lacks.
    const starts = async (extra: string[], env: Record<string, string>) => {
      const child = spawn(
        process.execPath,
        ["--disable-warning=ExperimentalWarning", CLI, "gateway", ...ports, ...extra],
        { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } },
      );
      let log = "";
      child.stdout.on("data", (d: Buffer) => {
        log += d.toString();
      });
      try {
        await until("the gateway started", () => log.includes('"gateway started"'), 30_000);
        const warning = log.split("\n").find((l) => l.includes("internal port not fully secured"));
        assert.ok(warning, `no warning in: ${log.slice(0, 500)}`);
        return JSON.parse(warning) as { missing: string[]; insecureInternal: boolean };
      } finally {
        child.kill("SIGTERM");
      }
    };
    const waived = await starts(["--insecure-internal"], {});
    assert.equal(waived.insecureInternal, true);
    assert.equal(waived.missing.length, 2, "TLS and the secret");
    const secretOnly = await starts([], { CHATCLUSTER_INTERNAL_SECRET: SECRET });
    assert.deepEqual(secretOnly.missing, [
      "TLS (--internal-tls-cert, --internal-tls-key, --internal-tls-ca)",
    ]);
    record(
      1,
      "gateway / logic started with neither TLS nor the shared secret; a gateway with the secret only",
      "neither: exit 2 with one line naming the flags and --insecure-internal (gateway and logic); with --insecure-internal, or the secret alone, the gateway starts and logs what its port lacks",
      startedAt,
    );
  });

  it("a client's message crosses the mTLS link; logic refuses a gateway that is not the one it expects", async () => {
    const startedAt = Date.now();
    const client = new ChatClient({ url: clientUrl(0), token: () => signDevToken(JWT_SECRET, "tls-user") });
    const got: string[] = [];
    client.on("message", (m) => got.push(String(m.body)));
    client.join("tls.room");
    client.connect();
    try {
      const ack = await client.send("tls.room", "over mTLS");
      assert.equal(ack.seq, 1);
      await until("the message", () => got.length === 1);
    } finally {
      client.close();
    }
    const wrongName = await metric(
      ops("logic", 0),
      "chatcluster_logic_push_tls_refusals_total",
      'reason="wrong_name"',
    );
    assert.ok(wrongName >= 1, `logic counted the imposter (${wrongName})`);
    assert.equal(await metric(ops("gateway", 1), "chatcluster_gateway_link_connected_streams"), 0);
    assert.equal(await metric(ops("logic", 0), "chatcluster_logic_push_connected_streams"), 1);
    record(
      2,
      "gateway-1 serves a certificate of the right CA for gateway.other.demo (logic expects gateway.chat.demo)",
      `a client's send crossed gateway-0 -> logic -> gateway-0 over mTLS (acked, delivered); logic refused gateway-1 ${wrongName} times (wrong_name), which never got a stream`,
      startedAt,
    );
  });

  it("the gateway refuses intruders on its internal port, with or without a certificate, and counts them", async () => {
    const startedAt = Date.now();
    const c = certs as Record<string, TestCert>;
    const ca = readFileSync(caA.caCert);
    const target = `https://${internal(0)}`;
    const gwOps = ops("gateway", 0);
    const refusals = (reason: string) =>
      metric(gwOps, "chatcluster_gateway_link_tls_refusals_total", `reason="${reason}"`);
    const as = (cert: TestCert | undefined, headers: Record<string, string>) =>
      rawLogicStream(target, [rawHello("intruder")], headers, {
        nodeOptions: {
          ca,
          servername: GATEWAY_NAME,
          ...(cert ? { cert: readFileSync(cert.cert), key: readFileSync(cert.key) } : {}),
        },
      });
    const withSecret = { [SECRET_HEADER]: SECRET };
    const before = {
      none: await refusals("no_certificate"),
      untrusted: await refusals("untrusted_certificate"),
      name: await refusals("wrong_name"),
    };
    const noCert = await as(undefined, withSecret);
    assert.ok(noCert !== undefined, "no client certificate: refused");
    await eventually(
      "no_certificate counted",
      async () => (await refusals("no_certificate")) === before.none + 1,
    );
    const otherCa = await as(c["logic-b"], withSecret);
    assert.ok(otherCa !== undefined, "a certificate of another CA: refused");
    await eventually(
      "untrusted_certificate counted",
      async () => (await refusals("untrusted_certificate")) === before.untrusted + 1,
    );
    const wrongName = await as(c["logic-wrong-name"], withSecret);
    assert.equal(wrongName?.code, Code.Unauthenticated);
    assert.match(String(wrongName?.message), /does not name logic\.chat\.demo/);
    assert.equal(await refusals("wrong_name"), before.name + 1);
    const noSecret = await as(c["logic-a"], {});
    assert.equal(noSecret?.code, Code.Unauthenticated, "logic's own certificate without the secret");
    assert.match(String(noSecret?.message), /x-chatcluster-link-secret/);
    record(
      3,
      "streams to gateway-0's internal port: no client certificate / one of another CA / the right CA but another name / logic's certificate without the secret",
      "handshake refused (no_certificate +1) / handshake refused (untrusted_certificate +1) / UNAUTHENTICATED (wrong_name +1) / UNAUTHENTICATED (second factor)",
      startedAt,
    );
  });

  it("every certificate rotated to a new CA under traffic: picked up without dropping the push stream", async () => {
    const startedAt = Date.now();
    const c = certs as Record<string, TestCert>;
    const gwOps = ops("gateway", 0);
    const logicOps = ops("logic", 0);
    // gateway-0's side: a replaced stream would show as one closed (or refused) and one more accepted.
    // (logic's reconnect counter also counts its attempts at the imposter gateway-1.)
    const streamEnds = async () =>
      (await metric(gwOps, "chatcluster_gateway_link_streams_closed_total")) +
      (await metric(gwOps, "chatcluster_gateway_link_streams_rejected_total"));
    const endsBefore = await streamEnds();
    const states: string[] = [];
    const got: number[] = [];
    const client = new ChatClient({ url: clientUrl(0), token: () => signDevToken(JWT_SECRET, "rotating") });
    let pickedUpMs = 0;
    client.on("state", (s) => states.push(s.state));
    client.on("message", (m) => got.push(Number(m.body)));
    client.join("rotation");
    client.connect();
    try {
      const sends = (async () => {
        for (let i = 1; i <= 40; i++) {
          await client.send("rotation", i);
          await new Promise((r) => setTimeout(r, 25));
        }
      })();
      // Awaited below; this only keeps a failure before that from surfacing as an unhandled rejection.
      sends.catch(() => undefined);
      await until("traffic flowing", () => got.length >= 5);
      const ab = bundle(join(dir, "bundle-ab.pem"), caA, caB);
      const swappedAt = Date.now();
      writeSecretVolume(volume("gateway-0"), {
        "tls.crt": (c["gateway-b"] as TestCert).cert,
        "tls.key": (c["gateway-b"] as TestCert).key,
        "ca.crt": ab,
      });
      writeSecretVolume(volume("logic-0"), {
        "tls.crt": (c["logic-b"] as TestCert).cert,
        "tls.key": (c["logic-b"] as TestCert).key,
        "ca.crt": ab,
      });
      const reloaded = async (address: string, name: string) =>
        (await metric(address, name, 'result="ok"')) >= 1;
      await eventually("gateway-0 reloaded", () =>
        reloaded(gwOps, "chatcluster_gateway_link_tls_reloads_total"),
      );
      await eventually("logic-0 reloaded", () =>
        reloaded(logicOps, "chatcluster_logic_push_tls_reloads_total"),
      );
      pickedUpMs = Date.now() - swappedAt;
      // A new handshake gets the new certificate.
      const presented = await new Promise<string>((resolve, reject) => {
        const s = tlsConnect(
          {
            host: "127.0.0.1",
            port: base + 20,
            ca: readFileSync(ab),
            servername: GATEWAY_NAME,
            ALPNProtocols: ["h2"],
          },
          () => {
            resolve(s.getPeerCertificate().fingerprint256);
            s.destroy();
          },
        );
        s.once("error", reject);
      });
      assert.equal(
        presented,
        new X509Certificate(readFileSync((c["gateway-b"] as TestCert).cert)).fingerprint256,
      );
      await sends;
      await until("every message", () => got.length === 40);
      assert.deepEqual(
        got,
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      assert.ok(!states.includes("reconnecting"), `client states: ${states.join(",")}`);
      assert.equal(await streamEnds(), endsBefore, "gateway-0's push stream ended during the rotation");
      assert.equal(await metric(gwOps, "chatcluster_gateway_link_connected_streams"), 1);
      assert.equal(await metric(logicOps, "chatcluster_logic_push_connected_streams"), 1);

      // Now gateway-0 trusts only the new CA and restarts: logic's new handshake must present its new certificate.
      writeSecretVolume(volume("gateway-0"), {
        "tls.crt": (c["gateway-b"] as TestCert).cert,
        "tls.key": (c["gateway-b"] as TestCert).key,
        "ca.crt": bundle(join(dir, "bundle-b.pem"), caB),
      });
      await eventually(
        "gateway-0 reloaded again",
        async () => (await metric(gwOps, "chatcluster_gateway_link_tls_reloads_total", 'result="ok"')) >= 2,
      );
      const pid = gateways[0]?.pid() as number;
      process.kill(pid, "SIGKILL");
      await until(
        "gateway-0 restarted",
        () => (gateways[0]?.starts() ?? 0) >= 2 && gateways[0]?.pid() !== undefined,
      );
      await eventually(
        "logic back on the restarted gateway-0",
        async () => {
          const streams = await metric(gwOps, "chatcluster_gateway_link_connected_streams").catch(() => 0);
          return streams === 1;
        },
        60_000,
      );
      const ack = await client.send("rotation", 41);
      assert.equal(ack.seq, 41);
    } finally {
      client.close();
    }
    record(
      4,
      "gateway-0's and logic-0's certificate, key and CA bundle rotated to a new CA (Secret-volume symlink swap) during the sends; then gateway-0 made to trust only the new CA and SIGKILLed",
      `picked up by both within ${(pickedUpMs / 1000).toFixed(1)} s (checked every 0.2 s); new handshakes present the new certificate; 40/40 acked and delivered in order; gateway-0's push stream never ended, 0 client disconnects; after the restart logic reconnected with its new client certificate`,
      startedAt,
    );
  });

  it("no secret or private key appears in what the processes logged", () => {
    const text = output.join("\n");
    assert.ok(output.length > 10, `captured ${output.length} lines`);
    assert.ok(!text.includes(SECRET), "the shared secret was logged");
    assert.ok(!text.includes("PRIVATE KEY"), "a private key was logged");
    const keyBody = (k: TestCert) => readFileSync(k.key, "utf8").split("\n")[1] as string;
    for (const [name, cert] of Object.entries(certs))
      assert.ok(!text.includes(keyBody(cert)), `${name}'s key was logged`);
  });
});
