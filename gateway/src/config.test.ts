import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError } from "../../platform/config-error.ts";
import { parseFlags } from "../../platform/flags.ts";
import { createCa, issueCert } from "../../testenv/harness/certs.ts";
import {
  edgeLimitsFrom,
  effectiveDrainWindowMs,
  gatewayFlags,
  internalLinkGaps,
  internalTlsFrom,
  pendingEventLimitsFrom,
  resolveGatewayId,
  validateGatewayConfig,
} from "./config.ts";
import { DEFAULT_EDGE_LIMITS, resolveEdgeLimits } from "./edge/edge-limits.ts";

describe("gateway config", () => {
  it("defaults give the edge's default limits", () => {
    const config = parseFlags(gatewayFlags, [], {});
    const heap = 4 * 1024 ** 3;
    assert.deepEqual(resolveEdgeLimits(edgeLimitsFrom(config, heap)), {
      ...DEFAULT_EDGE_LIMITS,
      sendBudgetBytes: heap / 4,
    });
    assert.deepEqual(pendingEventLimitsFrom(config), {
      maxPendingEvents: 10_000,
      maxPendingEventBytes: 64 * 1024 * 1024,
      pendingEventTimeoutMs: 10_000,
    });
    assert.deepEqual(config.clientListen, { host: "0.0.0.0", port: 8080 });
  });

  it("reads flags over CHATCLUSTER_* twins and validates ranges", () => {
    const config = parseFlags(
      gatewayFlags,
      ["--max-connections=500", "--heartbeat-interval", "10s", "--pending-event-timeout=2s"],
      {
        CHATCLUSTER_MAX_CONNECTIONS: "900",
        CHATCLUSTER_SEND_QUEUE_BYTES: "65536",
        CHATCLUSTER_SEND_BUDGET_BYTES: "1048576",
        CHATCLUSTER_CLIENT_LISTEN: "127.0.0.1:0",
      },
    );
    const limits = resolveEdgeLimits(edgeLimitsFrom(config, 4 * 1024 ** 3));
    assert.equal(limits.sendBudgetBytes, 1_048_576, "an explicit budget wins over the heap share");
    assert.equal(pendingEventLimitsFrom(config).pendingEventTimeoutMs, 2000);
    assert.equal(limits.maxConnections, 500);
    assert.equal(limits.heartbeatMs, 10_000);
    assert.equal(limits.sendQueueBytes, 65_536);
    assert.deepEqual(config.clientListen, { host: "127.0.0.1", port: 0 });
    assert.throws(() => parseFlags(gatewayFlags, ["--max-frame-bytes=10"], {}), ConfigError);
    assert.throws(() => parseFlags(gatewayFlags, [], { CHATCLUSTER_AUTH_TIMEOUT: "soon" }), /auth-timeout/);
  });

  it("gateway id falls back to HOSTNAME; the drain window ends before the shutdown deadline", () => {
    const config = parseFlags(gatewayFlags, ["--drain-window=60s", "--shutdown-grace=30s"], {});
    assert.equal(resolveGatewayId(config, { HOSTNAME: "gateway-3" }), "gateway-3");
    assert.equal(
      resolveGatewayId(parseFlags(gatewayFlags, ["--gateway-id=g1"], {}), { HOSTNAME: "x" }),
      "g1",
    );
    assert.equal(effectiveDrainWindowMs(config), 30_000 - DEFAULT_EDGE_LIMITS.closeGraceMs - 2000);
    assert.throws(() => resolveEdgeLimits({ sendQueueBytes: 0 }), /invalid_limits: sendQueueBytes/);
  });

  it("refuses an internal port with neither TLS nor the secret, and names what a partial one lacks", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "cc-gateway-tls-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const ca = await createCa(dir, "ca");
    const mine = await issueCert(dir, "gateway", ca, { dns: ["gateway.internal"], usage: "server" });
    const parse = (argv: string[]) => parseFlags(gatewayFlags, argv, {});
    const tls = [`--internal-tls-cert=${mine.cert}`, `--internal-tls-key=${mine.key}`];
    const secured = [...tls, `--internal-tls-ca=${ca.caCert}`, "--internal-secret=s3cret"];
    validateGatewayConfig(parse(secured));
    assert.deepEqual(internalTlsFrom(parse([...secured, "--internal-tls-client-name=logic.internal"])), {
      certFile: mine.cert,
      keyFile: mine.key,
      caFile: ca.caCert,
      clientName: "logic.internal",
      reloadIntervalMs: 10_000,
    });
    assert.deepEqual(internalLinkGaps(parse(secured)), []);
    // One of the two is enough to start (a cluster part way to TLS); the rest is warned about.
    const partial: [string[], string[]][] = [
      [["--internal-secret=s"], ["TLS (--internal-tls-cert, --internal-tls-key, --internal-tls-ca)"]],
      [[...tls, "--internal-secret=s"], ["client certificates (--internal-tls-ca)"]],
      [[...tls, `--internal-tls-ca=${ca.caCert}`], ["a shared secret (--internal-secret)"]],
    ];
    for (const [argv, gaps] of partial) {
      validateGatewayConfig(parse(argv));
      assert.deepEqual(internalLinkGaps(parse(argv)), gaps, argv.join(" "));
    }
    const refused: [string[], RegExp][] = [
      [[], /--insecure-internal: refusing to run the internal link with neither TLS .* nor a shared secret/],
      [[`--internal-tls-cert=${mine.cert}`, "--insecure-internal"], /--internal-tls-key: .* go together/],
      [["--internal-tls-client-name=x", ...tls, "--insecure-internal"], /--internal-tls-client-name: needs/],
      [[...secured, `--internal-tls-key=${ca.caKey}`], /--internal-tls-cert: .*key values mismatch/],
      [[...secured, `--internal-tls-ca=${join(dir, "nope")}`], /--internal-tls-cert: cannot read .*ENOENT/],
    ];
    for (const [argv, why] of refused)
      assert.throws(() => validateGatewayConfig(parse(argv)), why, argv.join(" "));
    validateGatewayConfig(parse(["--insecure-internal"]));
  });
});
