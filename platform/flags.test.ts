import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "./config-error.ts";
import {
  addressFlag,
  boolFlag,
  durationFlag,
  enumFlag,
  formatFlagHelp,
  intFlag,
  listFlag,
  parseFlags,
  stringFlag,
} from "./flags.ts";

const specs = {
  name: stringFlag("T_NAME", "gw-0", "Name."),
  maxConnections: intFlag("T_MAX", 100, "Max.", 1, 1000),
  drain: durationFlag("T_DRAIN", 30_000, "Drain window.", 1000, 600_000),
  tls: boolFlag("T_TLS", false, "TLS."),
  store: enumFlag("T_STORE", "sqlite", "Store.", ["sqlite", "nats"] as const),
  peers: listFlag("T_PEERS", "Peers."),
  listen: addressFlag("T_LISTEN", "0.0.0.0:8080", "Listen."),
};

describe("parseFlags", () => {
  it("uses defaults when nothing is given", () => {
    const c = parseFlags(specs, [], {});
    assert.equal(c.name, "gw-0");
    assert.equal(c.maxConnections, 100);
    assert.equal(c.drain, 30_000);
    assert.equal(c.tls, false);
    assert.deepEqual(c.peers, []);
    assert.deepEqual(c.listen, { host: "0.0.0.0", port: 8080 });
    assert.ok(Object.isFrozen(c));
  });

  it("prefers the flag over the environment and the environment over the default", () => {
    const env = { T_NAME: "from-env", T_MAX: "7" };
    const c = parseFlags(specs, ["--name=from-flag"], env);
    assert.equal(c.name, "from-flag");
    assert.equal(c.maxConnections, 7);
  });

  it("accepts --flag value, bare booleans, durations, lists and addresses", () => {
    const c = parseFlags(
      specs,
      [
        "--max-connections",
        "5",
        "--tls",
        "--drain=2m",
        "--peers=a:1, b:2,,",
        "--listen=[::1]:0",
        "--store=nats",
      ],
      {},
    );
    assert.equal(c.maxConnections, 5);
    assert.equal(c.tls, true);
    assert.equal(c.drain, 120_000);
    assert.deepEqual(c.peers, ["a:1", "b:2"]);
    assert.deepEqual(c.listen, { host: "::1", port: 0 });
    assert.equal(c.store, "nats");
  });

  it("names the flag, the value and what is allowed in one line", () => {
    assert.throws(
      () => parseFlags(specs, ["--max-connections=5000"], {}),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.flag === "max-connections" &&
        err.message === '--max-connections: out of range: got "5000", allowed: an integer from 1 to 1000' &&
        !err.message.includes("\n"),
    );
    assert.throws(
      () => parseFlags(specs, [], { T_STORE: "redis" }),
      /--store: not an allowed value \(from T_STORE\)/,
    );
    assert.throws(() => parseFlags(specs, ["--drain=5"], {}), /--drain: not a duration/);
    assert.throws(() => parseFlags(specs, ["--listen=nope"], {}), /--listen: not host:port/);
  });

  it("refuses unknown flags and stray arguments", () => {
    assert.throws(() => parseFlags(specs, ["--nope=1"], {}), /--nope: unknown flag/);
    assert.throws(() => parseFlags(specs, ["stray"], {}), /unexpected argument/);
    assert.throws(() => parseFlags(specs, ["--name"], {}), /--name: needs a value/);
  });
});

describe("formatFlagHelp", () => {
  it("lists every flag with its variable and default", () => {
    const help = formatFlagHelp(specs);
    for (const [flag, env, def] of [
      ["--name", "$T_NAME", "gw-0"],
      ["--max-connections", "$T_MAX", "100"],
      ["--drain", "$T_DRAIN", "30s"],
      ["--listen", "$T_LISTEN", "0.0.0.0:8080"],
      ["--peers", "$T_PEERS", '""'],
    ]) {
      const line = help.split("\n").find((l) => l.trimStart().startsWith(`${flag} `));
      assert.ok(line, `help has ${flag}`);
      assert.ok(line.includes(`[${env}]`) && line.includes(`(default: ${def})`), line);
    }
  });
});
