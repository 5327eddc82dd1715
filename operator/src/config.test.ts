import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../platform/config-error.ts";
import { parseFlags } from "../../platform/flags.ts";
import { operatorFlags, validateOperatorConfig } from "./config.ts";
import { microTime } from "./leader-election.ts";

describe("operator config", () => {
  it("has client-go's lease timings by default and reads env twins", () => {
    const c = parseFlags(operatorFlags, [], { CHATCLUSTER_WATCH_NAMESPACE: "chat" });
    assert.equal(c.leaseDuration, 15_000);
    assert.equal(c.renewDeadline, 10_000);
    assert.equal(c.retryPeriod, 2000);
    assert.equal(c.leaderElect, true);
    assert.equal(c.watchNamespace, "chat");
    assert.match(c.workloadImage, /^ghcr\.io\/chatcluster\/chatcluster:\d+\.\d+\.\d+/);
    validateOperatorConfig(c);
  });

  it("refuses lease timings that cannot work", () => {
    const c = parseFlags(operatorFlags, ["--lease-duration=5s", "--renew-deadline=5s"], {});
    assert.throws(
      () => validateOperatorConfig(c),
      (e: unknown) => e instanceof ConfigError && e.flag === "renew-deadline",
    );
    const d = parseFlags(operatorFlags, ["--renew-deadline=2s", "--retry-period=2s"], {});
    assert.throws(
      () => validateOperatorConfig(d),
      (e: unknown) => e instanceof ConfigError && e.flag === "retry-period",
    );
  });
});

describe("microTime", () => {
  it("writes the six fractional digits the API server's MicroTime parser requires", () => {
    assert.equal(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 67)), "2026-01-02T03:04:05.067000Z");
  });
});
