import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Registry } from "prom-client";
import {
  type ClientEvent,
  ClientEventSchema,
  type Reply,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { createLogger } from "../../../platform/logger.ts";
import type { Authenticator } from "../auth/authenticator.ts";
import { InMemoryPresenceTable } from "../store/in-memory-presence-table.ts";
import { InMemoryStoreForTests } from "../store/testing/memory-store.ts";
import { createHandlers } from "./create-handlers.ts";
import { createLogicMetrics } from "./logic-metrics.ts";
import { startPresenceSweep } from "./presence-sweep.ts";
import { RecordingFleet } from "./testing/fake-fleet.ts";

const GW0 = { id: "gw-0", epoch: "e1" };
const GW1 = { id: "gw-1", epoch: "e1" };
const enc = new TextEncoder();
const dec = new TextDecoder();
const principal = { userId: "alice", read: ["r", "s"], write: ["s"], expiresAtMs: 0n };

function setup() {
  const fleet = new RecordingFleet();
  const table = new InMemoryPresenceTable();
  const metrics = createLogicMetrics(new Registry());
  const sink = createHandlers({
    store: new InMemoryStoreForTests(),
    fleet,
    auth: {} as Authenticator,
    metrics,
    log: createLogger("presence-test", "silent"),
    limits: { maxBodyBytes: 1024, maxHistoryPage: 10 },
    presence: table,
  });
  let nextId = 1n;
  const run = async (
    from: typeof GW0,
    ...evs: MessageInitShape<typeof ClientEventSchema>[]
  ): Promise<Reply[]> => {
    const events: ClientEvent[] = evs.map((e) => create(ClientEventSchema, { eventId: nextId++, ...e }));
    const before = fleet.replies.length;
    sink.onEvents(from, events);
    await fleet.untilReplies(before + events.length);
    return events.map((e) => fleet.replyTo(e.eventId));
  };
  const seen = () => fleet.deliveries.map((d) => `${d.room} ${dec.decode(d.payload)}`);
  return { fleet, table, run, seen, metrics };
}

const change = (room: string, userId: string, online: boolean) => ({
  kind: { case: "presenceChange" as const, value: { room, userId, online } },
});
const frameOf = (r: Reply) => JSON.parse(dec.decode(r.kind.value as Uint8Array)) as Record<string, unknown>;

describe("presence handlers", () => {
  it("announce a user's first arrival and last departure across gateways, once", async () => {
    const { run, seen } = setup();
    await run(GW0, change("r", "bob", true));
    await run(GW1, change("r", "bob", true), change("r", "bob", true));
    await run(GW0, change("r", "bob", false));
    assert.deepEqual(seen(), [
      'r#presence {"type":"presence_change","room":"r","user":"bob","state":"joined"}',
    ]);
    await run(GW1, change("r", "bob", false));
    assert.equal(
      seen().at(-1),
      'r#presence {"type":"presence_change","room":"r","user":"bob","state":"left"}',
    );
    const [page] = await run(GW0, {
      principal,
      kind: { case: "presenceQuery", value: { room: "r", after: "", limit: 0 } },
    });
    assert.deepEqual(frameOf(page as Reply), { type: "presence", room: "r", total: 0, users: [] });
  });

  it("authorise queries like join and signals like send; signals are fanned out, not stored", async () => {
    const { run, seen } = setup();
    const [denied] = await run(GW0, {
      principal,
      kind: { case: "presenceQuery", value: { room: "x", after: "", limit: 0 } },
    });
    assert.equal(frameOf(denied as Reply).code, "forbidden");
    const [noWrite, ok] = await run(
      GW0,
      {
        principal,
        kind: {
          case: "signal",
          value: { room: "r", signalKind: "typing", body: new Uint8Array(0), connection: "gw-0/1" },
        },
      },
      {
        principal,
        kind: {
          case: "signal",
          value: { room: "s", signalKind: "typing", body: enc.encode("1"), connection: "gw-0/1" },
        },
      },
    );
    assert.equal(frameOf(noWrite as Reply).code, "forbidden");
    assert.equal((ok as Reply).kind.case, "done");
    assert.deepEqual(seen(), [
      's {"type":"signal","room":"s","kind":"typing","from":"alice","connection":"gw-0/1","body":1}',
    ]);
  });

  it("expire a silent gateway's entries and tell the room", async () => {
    const { fleet, table, metrics } = setup();
    const log = createLogger("presence-test", "silent");
    await table.setOnline("r", "carol", "gw-9/e1", Date.now() - 10_000, 1000);
    metrics.presenceEntries.set(99);
    const stop = startPresenceSweep(table, fleet, () => new Set(), metrics, log);
    try {
      const deadline = Date.now() + 5000;
      while (fleet.deliveries.length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
    } finally {
      stop();
    }
    assert.equal(fleet.deliveries[0]?.room, "r#presence");
    assert.match(dec.decode(fleet.deliveries[0]?.payload), /"state":"left"/);
    const announced = (await metrics.presenceAnnounced.get()).values.find(
      (v) => v.labels.change === "left" && v.labels.cause === "expiry",
    );
    assert.equal(announced?.value, 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await metrics.presenceEntries.get()).values[0]?.value, 0, "gauge refreshed by the sweep");
  });
});
