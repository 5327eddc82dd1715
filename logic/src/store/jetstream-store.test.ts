import { type NatsServer, startNats } from "../../../testenv/harness/index.ts";
import { JetStreamStore, type JetStreamStoreOptions } from "./jetstream-store.ts";
import type { MessageStore } from "./message-store.ts";
import { messageStoreContract } from "./testing/store-contract.ts";

// A real nats-server from `make testenv`; startNats throws "run `make testenv`" when it is missing.
let nats: NatsServer;
let options: JetStreamStoreOptions;

messageStoreContract("nats jetstream", {
  durable: true,
  skip:
    process.env.CHATCLUSTER_UNIT_ONLY === "1" && "CHATCLUSTER_UNIT_ONLY=1: needs nats-server (make testenv)",
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
  outage: {
    async begin(store: MessageStore) {
      nats.kill("SIGTERM");
      // Wait until the client has noticed, so the next append meets the outage.
      for (let i = 0; i < 200; i++) {
        try {
          await store.read("probe", { limit: 1 });
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("nats-server did not go away");
    },
    end: () => nats.restart(),
  },
});
