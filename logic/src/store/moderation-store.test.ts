import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { type NatsServer, startNats } from "../../../testenv/harness/index.ts";
import { JetStreamModeration } from "./jetstream-moderation.ts";
import { SqliteModeration } from "./sqlite-moderation.ts";
import { InMemoryModerationForTests } from "./testing/memory-moderation.ts";
import { moderationContract } from "./testing/moderation-contract.ts";

const dir = mkdtempSync(join(tmpdir(), "cc-moderation-"));
// A real nats-server from `make testenv`; startNats throws "run `make testenv`" when it is missing.
let nats: NatsServer;
before(async () => {
  nats = await startNats({ name: "moderation" });
});
after(async () => {
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const memory = new InMemoryModerationForTests();
moderationContract("in-memory", async () => memory, false);
moderationContract(
  "sqlite",
  async () => new SqliteModeration({ dataDir: dir, fileName: "moderation.db" }),
  true,
);
moderationContract(
  "nats jetstream",
  () =>
    JetStreamModeration.open({
      servers: [nats.url],
      stream: "CC_MODERATION_TEST",
      subjectPrefix: "ccmod",
      replicas: 1,
      requestTimeoutMs: 2000,
      connectionName: "moderation-test",
    }),
  true,
);
