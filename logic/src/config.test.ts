import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError } from "../../platform/config-error.ts";
import { parseFlags } from "../../platform/flags.ts";
import { createCa, issueCert } from "../../testenv/harness/certs.ts";
import {
  internalLinkGaps,
  logicConfigWarnings,
  logicFlags,
  redactLogicConfig,
  validateLogicConfig,
} from "./config.ts";

const SECRET = "s".repeat(32);
const parse = (argv: string[], env: Record<string, string> = {}) => parseFlags(logicFlags, argv, env);

describe("logic config", () => {
  it("has defaults for a local single-node run", () => {
    const c = parse(["--jwt-secret-file=/run/secret", "--discovery-static=127.0.0.1:7001"]);
    assert.equal(c.store, "sqlite");
    assert.equal(c.sqliteDataDir, "./data");
    assert.equal(c.maxHistoryPage, 100);
    assert.equal(c.natsDuplicateWindow, 120_000);
    assert.deepEqual(c.apiListen, { host: "0.0.0.0", port: 8081 });
    assert.throws(() => validateLogicConfig(c), /--insecure-internal: refusing .* neither TLS/);
    validateLogicConfig(
      parse(["--jwt-secret-file=/run/secret", "--discovery-static=h:1", "--insecure-internal"]),
    );
  });

  it("reads CHATCLUSTER_* twins and lets flags win", () => {
    const c = parse(["--store=nats"], {
      CHATCLUSTER_STORE: "sqlite",
      CHATCLUSTER_NATS_URLS: "nats://a:4222,nats://b:4222",
      CHATCLUSTER_API_KEYS: "k1,k2",
      CHATCLUSTER_JWT_JWKS_FILE: "/jwks.json",
      CHATCLUSTER_DISCOVERY: "kubernetes",
      CHATCLUSTER_DISCOVERY_SERVICE: "gateways",
      CHATCLUSTER_NATS_DUPLICATE_WINDOW: "10m",
      CHATCLUSTER_INSECURE_INTERNAL: "true",
    });
    assert.equal(c.store, "nats");
    assert.deepEqual(c.natsUrls, ["nats://a:4222", "nats://b:4222"]);
    assert.equal(c.natsDuplicateWindow, 600_000);
    validateLogicConfig(c);
    assert.deepEqual(redactLogicConfig(c).apiKeys, ["[2 redacted]"]);
  });

  it("refuses a push stream with neither TLS nor the secret, and names what a partial one lacks", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "cc-logic-tls-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const ca = await createCa(dir, "ca");
    const mine = await issueCert(dir, "logic", ca, { dns: ["logic.internal"], usage: "client" });
    const base = [`--jwt-secret=${SECRET}`, "--discovery-static=h:1"];
    const tls = ["--internal-tls", `--internal-tls-ca=${ca.caCert}`, `--internal-tls-cert=${mine.cert}`];
    const secured = [...base, ...tls, `--internal-tls-key=${mine.key}`, "--internal-secret=s3cret"];
    validateLogicConfig(parse(secured));
    assert.deepEqual(internalLinkGaps(parse(secured)), []);
    const partial: [string[], string[]][] = [
      [[...base, ...tls, `--internal-tls-key=${mine.key}`], ["a shared secret (--internal-secret)"]],
      [
        [...base, "--internal-tls", "--internal-secret=s"],
        ["a client certificate (--internal-tls-cert, --internal-tls-key)"],
      ],
      [[...base, "--internal-secret=s"], ["TLS (--internal-tls, --internal-tls-cert, --internal-tls-key)"]],
    ];
    for (const [argv, gaps] of partial) {
      validateLogicConfig(parse(argv));
      assert.deepEqual(internalLinkGaps(parse(argv)), gaps, argv.join(" "));
    }
    const refused: [string[], RegExp][] = [
      [
        base,
        /--insecure-internal: refusing to run the internal link with neither TLS .* nor a shared secret/,
      ],
      [[...base, ...tls, "--internal-secret=s", "--insecure-internal"], /--internal-tls-key: .* go together/],
      [
        [...base, `--internal-tls-ca=${ca.caCert}`, "--insecure-internal"],
        /--internal-tls: .*need --internal-tls/,
      ],
      [
        [
          ...secured.filter((a) => !a.startsWith("--discovery")),
          "--discovery=kubernetes",
          "--discovery-service=g",
        ],
        /--internal-tls-server-name: .*pod IP/,
      ],
      [
        [...secured, `--internal-tls-cert=${join(dir, "missing.crt")}`],
        /--internal-tls-cert: cannot read .*ENOENT/,
      ],
      [[...secured, `--internal-tls-key=${ca.caKey}`], /--internal-tls-cert: .*key values mismatch/],
    ];
    for (const [argv, why] of refused)
      assert.throws(() => validateLogicConfig(parse(argv)), why, argv.join(" "));
    validateLogicConfig(parse([...base, "--insecure-internal"]));
  });

  it("needs no JWT key when the Connect hook decides instead; checks hook patterns", () => {
    const c = parse([
      "--discovery-static=h:1",
      "--hook-connect=instead",
      "--hooks-url=http://hooks:8080/",
      "--hooks-secret=x",
      "--insecure-internal",
    ]);
    validateLogicConfig(c);
    assert.equal(redactLogicConfig(c).hooksSecret, "[redacted]");
    assert.throws(() => parse(["--hook-send-rooms=a.>.b"]), /hook-send-rooms/);
    assert.throws(() => parse(["--hook-send-on-failure=maybe"]), /hook-send-on-failure/);
  });

  it("refuses the in-memory store and bad combinations", () => {
    assert.throws(() => parse(["--store=memory"]), ConfigError);
    assert.throws(() => parse(["--nats-replicas=7"]), ConfigError);
    validateLogicConfig(
      parse([`--jwt-secret=${SECRET}`, "--discovery-static=h:1", "--nats-replicas=3", "--insecure-internal"]),
    );
    const bad: [string[], RegExp][] = [
      [["--discovery-static=h:1"], /exactly one of/],
      [["--jwt-secret=short", "--discovery-static=h:1"], /32 bytes/],
      [
        [`--jwt-secret=${SECRET}`, "--jwt-public-key-file=/k.pem", "--discovery-static=h:1"],
        /exactly one of/,
      ],
      [[`--jwt-secret=${SECRET}`], /discovery-static/],
      [[`--jwt-secret=${SECRET}`, "--discovery=file"], /discovery-file/],
      [[`--jwt-secret=${SECRET}`, "--discovery-static=h:1", "--nats-stream=a.b"], /nats-stream/],
      [[`--jwt-secret=${SECRET}`, "--discovery-static=h:1", "--nats-replicas=2"], /1, 3 or 5/],
      [[`--jwt-secret=${SECRET}`, "--discovery-static=h:1", "--nats-replicas=4"], /1, 3 or 5/],
      [[`--jwt-secret=${SECRET}`, "--discovery-static=h:1", "--hook-send-rooms=>"], /hooks-url.*required/],
      [
        [`--jwt-secret=${SECRET}`, "--discovery-static=h:1", "--hook-join-rooms=a", "--hooks-url=ftp://x"],
        /http/,
      ],
    ];
    for (const [argv, why] of bad) assert.throws(() => validateLogicConfig(parse(argv)), why, argv.join(" "));
    assert.equal(redactLogicConfig(parse([`--jwt-secret=${SECRET}`])).jwtSecret, "[redacted]");
  });

  it("warns when the duplicate window is shorter than the SDK's retry horizon plus the store timeout", () => {
    const base = [`--jwt-secret=${SECRET}`, "--discovery-static=h:1", "--store=nats"];
    assert.deepEqual(
      logicConfigWarnings(parse(base)),
      [],
      "defaults: 120 s window, 60 s horizon, 5 s timeout",
    );
    assert.deepEqual(
      logicConfigWarnings(parse([...base.slice(0, 2), "--nats-duplicate-window=10s"])),
      [],
      "sqlite",
    );
    const [w] = logicConfigWarnings(parse([...base, "--nats-duplicate-window=30s"]));
    assert.match(w ?? "", /retryHorizonMs below 25000 ms/);
  });
});
