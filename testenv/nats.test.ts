// Proves the NATS part of the testenv is real: JetStream dedupe by Nats-Msg-Id,
// data surviving restart() on the same port.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type NatsServer, needsReal, startNats, trackFailures } from "./harness/index.ts";

describe("testenv nats-server", { skip: needsReal("nats-server (make testenv)") }, () => {
  let nats: NatsServer;
  const failed = trackFailures();

  before(async () => {
    nats = await startNats({ name: "testenv-nats" });
  });
  after(async () => {
    await nats?.stop({ failed: failed() });
  });

  test("JetStream deduplicates a publish with a repeated Nats-Msg-Id", async () => {
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "DEDUPE", subjects: ["dedupe.>"], duplicate_window: 60_000_000_000 });
      const js = jetstream(nc);
      const first = await js.publish("dedupe.room1", "hello", { msgID: "client-msg-1" });
      const second = await js.publish("dedupe.room1", "hello again", { msgID: "client-msg-1" });
      const other = await js.publish("dedupe.room1", "other", { msgID: "client-msg-2" });
      assert.equal(first.duplicate, false);
      assert.equal(second.duplicate, true);
      assert.equal(second.seq, first.seq, "a duplicate acks the original sequence");
      assert.equal(other.duplicate, false);
      assert.equal(other.seq, first.seq + 1);
      const info = await jsm.streams.info("DEDUPE");
      assert.equal(info.state.messages, 2);
    } finally {
      await nc.close();
    }
  });

  test("restart() keeps the port and the JetStream data", async () => {
    const nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "DURABLE", subjects: ["durable.>"] });
    await jetstream(nc).publish("durable.x", "persisted", { msgID: "m1" });
    await nc.close();

    const portBefore = nats.port;
    await nats.restart();
    assert.equal(nats.port, portBefore);

    const nc2 = await connect({ servers: nats.url });
    try {
      const jsm2 = await jetstreamManager(nc2);
      const info = await jsm2.streams.info("DURABLE");
      assert.equal(info.state.messages, 1);
      const msg = await jsm2.streams.getMessage("DURABLE", { seq: 1 });
      assert.equal(msg?.string(), "persisted");
    } finally {
      await nc2.close();
    }
  });

  test("kill() then restart() recovers from a crash", async () => {
    nats.kill("SIGKILL");
    await nats.restart();
    const nc = await connect({ servers: nats.url });
    try {
      const info = await (await jetstreamManager(nc)).streams.info("DURABLE");
      assert.equal(info.state.messages, 1);
    } finally {
      await nc.close();
    }
  });
});
