// Chaos under steady load against the whole stack as real processes (2
// gateways, 2 logic, SQLite): every acknowledged message reaches every client
// exactly once and in order, whatever process is rolled or killed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runScenario } from "./scenario.ts";
import { type ReliabilityStack, startReliabilityStack } from "./stack.ts";

describe("chaos under load (store=sqlite)", { timeout: 300_000 }, () => {
  let rs: ReliabilityStack;
  before(async () => {
    rs = await startReliabilityStack({ store: "sqlite" });
  });
  after(async () => {
    await rs?.stop();
  });

  it("(a) a rolling restart of every logic process disconnects nobody and loses nothing", async () => {
    await runScenario(rs, {
      id: "chaos-a-logic-roll",
      fault: "SIGTERM logic-0, wait until restarted and ready, then logic-1",
      noDisconnects: true,
      async inject() {
        for (const j of [0, 1]) await rs.bounce("logic", j, "SIGTERM");
      },
      outcome: (r, resent) =>
        `each logic process answered what it had before closing its streams (gateways resent ${resent} events); ${r.disconnects} client disconnects, ${r.duplicates} duplicates`,
    });
  });

  it("(b) SIGKILL of a logic process with events in flight disconnects nobody and loses nothing", async () => {
    await runScenario(rs, {
      id: "chaos-b-logic-kill",
      fault: "SIGSTOP logic-1 for 1 s (events for its rooms pile up unanswered), then SIGKILL it",
      noDisconnects: true,
      async inject() {
        const pid = rs.stack.logic[1]?.pid();
        assert.ok(pid !== undefined);
        process.kill(pid, "SIGSTOP");
        await new Promise((r) => setTimeout(r, 1000));
        await rs.bounce("logic", 1, "SIGKILL");
      },
      outcome: (r, resent) =>
        `gateways resent ${resent} unanswered events of the dead streams to logic-0 (stored once each, by client id); ${r.disconnects} client disconnects, ${r.duplicates} duplicates`,
      check: (_r, resent) => assert.ok(resent > 0, "the kill caught events in flight"),
    });
  });

  it("(c) a gateway drain (SIGTERM) moves its clients with nothing lost", async () => {
    await runScenario(rs, {
      id: "chaos-c-gateway-drain",
      fault: "SIGTERM gateway-0 (3 s drain window), restarted by the supervisor",
      async inject() {
        await rs.bounce("gateway", 0, "SIGTERM");
      },
      outcome: (r) =>
        `reconnect hints spread over the window; ${r.disconnects} client moves, each resumed by seq; ${r.duplicates} duplicates`,
      check: (r) => assert.ok(r.disconnects >= 1, "clients of the drained gateway moved"),
    });
  });

  it("(d) SIGKILL of a gateway: its clients resume through the other one", async () => {
    await runScenario(rs, {
      id: "chaos-d-gateway-kill",
      fault: "SIGKILL gateway-1 (restarted by the supervisor)",
      async inject() {
        await rs.bounce("gateway", 1, "SIGKILL");
      },
      outcome: (r) =>
        `${r.disconnects} clients reconnected to gateway-0 with backoff and resumed by seq; unacked sends retried with the same id; ${r.duplicates} duplicates`,
      check: (r) => assert.ok(r.disconnects >= 1, "clients of the killed gateway reconnected"),
    });
  });
});
