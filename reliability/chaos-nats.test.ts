// A NATS outage and restart under load with store=nats: senders see retryable
// errors while JetStream is down, the SDK retries with the same ids, and
// nothing acknowledged is lost or duplicated.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type NatsServer, needsReal, startNats } from "../testenv/harness/index.ts";
import { runScenario } from "./scenario.ts";
import { type ReliabilityStack, startReliabilityStack } from "./stack.ts";

const OUTAGE_MS = 2_000;

describe("chaos under load (store=nats)", {
  timeout: 300_000,
  skip: needsReal("nats-server (make testenv)"),
}, () => {
  let nats: NatsServer;
  let rs: ReliabilityStack;
  before(async () => {
    nats = await startNats({ name: "reliability" });
    rs = await startReliabilityStack({ store: "nats", natsUrl: nats.url });
  });
  after(async () => {
    await rs?.stop();
    await nats?.stop();
  });

  it("(e) a NATS restart: retryable errors while it is down, nothing acknowledged lost", async () => {
    await runScenario(rs, {
      id: "chaos-e-nats-restart",
      fault: `SIGTERM nats-server, ${OUTAGE_MS / 1000} s down, start it again on the same store`,
      noDisconnects: true,
      async inject() {
        nats.kill("SIGTERM");
        await new Promise((r) => setTimeout(r, OUTAGE_MS));
        await nats.restart();
      },
      outcome: (r) =>
        `senders got ${r.retryableErrors} retryable errors (${JSON.stringify(r.errorCodes)}), the SDK retried with the same ids; ${r.disconnects} client disconnects, ${r.duplicates} duplicates`,
      check: (r) => {
        assert.ok(r.retryableErrors > 0, "senders were told about the outage");
        const codes = Object.keys(r.errorCodes);
        assert.ok(
          codes.every((c) => c === "unavailable" || c === "internal"),
          `only retryable errors: ${codes.join(",")}`,
        );
      },
    });
  });
});
