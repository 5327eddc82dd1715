import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type NatsServer, needsReal, startNats } from "../../../testenv/harness/index.ts";
import { JetStreamStore, type JetStreamStoreOptions } from "./jetstream-store.ts";
import { StoreError } from "./store-error.ts";
import { messageStoreContract } from "./testing/store-contract.ts";

// A real nats-server from `make testenv`; startNats throws "run `make testenv`" when it is missing.
let nats: NatsServer;
let options: JetStreamStoreOptions;
/** The shortest duplicate window --nats-duplicate-window accepts. */
const SHORT_WINDOW_MS = 1000;
const shortWindowOptions = (): JetStreamStoreOptions => ({ ...options, duplicateWindowMs: SHORT_WINDOW_MS });

messageStoreContract("nats jetstream", {
  durable: true,
  skip: needsReal("nats-server (make testenv)"),
  setup: async () => {
    nats = await startNats({ name: "logic-store" });
    options = {
      servers: [nats.url],
      stream: "CHATCLUSTER_TEST",
      subjectPrefix: "cctest",
      duplicateWindowMs: 120_000,
      requestTimeoutMs: 2000,
      replicas: 1,
      connectionName: "store-test",
    };
  },
  teardown: async () => nats?.stop(),
  open: () => JetStreamStore.open(options),
  writerSpec: (room, writer, count) => ({ kind: "nats", options, room, writer, count, concurrency: 8 }),
  shortWindow: {
    windowMs: SHORT_WINDOW_MS,
    // A stream of its own: opening a store brings its stream's window to the option.
    open: () =>
      JetStreamStore.open({ ...shortWindowOptions(), stream: "CHATCLUSTER_WINDOW", subjectPrefix: "ccwin" }),
  },
  outage: {
    begin: async () => nats.kill("SIGTERM"),
    end: () => nats.restart(),
  },
});

describe("JetStreamStore: one hot room", { skip: needsReal("nats-server (make testenv)") }, () => {
  let server: NatsServer;
  before(async () => {
    server = await startNats({ name: "logic-store-hot-room" });
  });
  after(async () => server?.stop());

  it("refuses appends beyond the per-room backlog as overloaded and leaves other rooms alone", async () => {
    const store = await JetStreamStore.open({
      servers: [server.url],
      stream: "CHATCLUSTER_HOT",
      subjectPrefix: "cchot",
      duplicateWindowMs: 120_000,
      requestTimeoutMs: 2000,
      replicas: 1,
      connectionName: "store-test-hot",
      maxQueuedPerRoom: 4,
    });
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => store.append("hot", { id: `h${i}`, from: "u", body: "1" })),
      );
      const ok = results.filter((r) => r.status === "fulfilled");
      const refused = results.filter(
        (r) => r.status === "rejected" && r.reason instanceof StoreError && r.reason.code === "overloaded",
      );
      assert.equal(ok.length, 4);
      assert.equal(refused.length, 16);
      assert.deepEqual(
        ok.map((r) => (r as PromiseFulfilledResult<{ seq: number }>).value.seq),
        [1, 2, 3, 4],
      );
      const other = await store.append("calm", { id: "c1", from: "u", body: "1" });
      assert.equal(other.seq, 1);
    } finally {
      await store.close();
    }
  });
});

describe("JetStreamStore: after the duplicate window", {
  skip: needsReal("nats-server (make testenv)"),
}, () => {
  let server: NatsServer;
  before(async () => {
    server = await startNats({ name: "logic-store-window" });
  });
  after(async () => server?.stop());

  it("stores a resend that comes after the window as a new message (why the SDK stops retrying before it)", async () => {
    const store = await JetStreamStore.open({
      servers: [server.url],
      stream: "CHATCLUSTER_LATE",
      subjectPrefix: "cclate",
      duplicateWindowMs: SHORT_WINDOW_MS,
      requestTimeoutMs: 2000,
      replicas: 1,
      connectionName: "store-test-window",
    });
    try {
      const first = await store.append("r", { id: "late", from: "u", body: "1" });
      await new Promise((r) => setTimeout(r, SHORT_WINDOW_MS * 2.5));
      const again = await store.append("r", { id: "late", from: "u", body: "1" });
      assert.deepEqual([first.seq, again.seq, again.duplicate], [1, 2, false]);
    } finally {
      await store.close();
    }
  });
});
