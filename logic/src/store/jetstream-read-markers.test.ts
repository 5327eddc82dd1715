import { after, before } from "node:test";
import { type NatsServer, needsReal, startNats } from "../../../testenv/harness/index.ts";
import { JetStreamStore } from "./jetstream-store.ts";
import { readMarkerContract } from "./testing/read-marker-contract.ts";

// A real nats-server from `make testenv`; startNats throws "run `make testenv`" when it is missing.
let nats: NatsServer;
let k = 0;
const skip = needsReal("nats-server (make testenv)");
before(async () => {
  if (!skip) nats = await startNats({ name: "read-markers" });
});
after(async () => nats?.stop());

readMarkerContract(
  "nats jetstream",
  () =>
    JetStreamStore.open({
      servers: [nats.url],
      stream: `CC_READS_TEST_${++k}`,
      subjectPrefix: `ccreads${k}`,
      duplicateWindowMs: 120_000,
      requestTimeoutMs: 2000,
      replicas: 1,
      connectionName: "read-marker-test",
    }),
  skip,
);
