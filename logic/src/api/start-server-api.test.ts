import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Registry } from "prom-client";
import { ChatService } from "../../../gen/chatcluster/v1/chat_api_pb.js";
import { createLogger } from "../../../platform/logger.ts";
import { boundStore } from "../handlers/bounded-store.ts";
import { createLogicMetrics } from "../handlers/logic-metrics.ts";
import { RecordingFleet } from "../handlers/testing/fake-fleet.ts";
import { ModerationList } from "../moderation/moderation-list.ts";
import { InMemoryPresenceTable } from "../store/in-memory-presence-table.ts";
import { InMemoryModerationForTests } from "../store/testing/memory-moderation.ts";
import { InMemoryStoreForTests } from "../store/testing/memory-store.ts";
import { type ServerApi, startServerApi } from "./start-server-api.ts";

const run = promisify(execFile);
const KEY = "key-one-0123456789";
const value = (v: JsonValue) => fromJson(ValueSchema, v);
const auth = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

describe("server api", () => {
  const store = new InMemoryStoreForTests();
  const moderation = new InMemoryModerationForTests();
  const fleet = new RecordingFleet();
  const registry = new Registry();
  let api: ServerApi;
  let base: string;

  before(async () => {
    const metrics = createLogicMetrics(registry);
    api = await startServerApi({
      host: "127.0.0.1",
      port: 0,
      keys: ["old-key-abcdef", KEY],
      store: boundStore(store, { maxInFlight: 16, maxQueued: 16 }, metrics),
      fleet,
      metrics,
      log: createLogger("logic-test", "silent"),
      limits: { maxBodyBytes: 1024, maxHistoryPage: 50 },
      presence: new InMemoryPresenceTable(),
      self: { logicId: "logic-test", epoch: "e1", version: "0.0.0" },
      moderation: {
        store: moderation,
        list: new ModerationList(moderation, createLogger("logic-test", "silent")),
      },
    });
    base = `http://127.0.0.1:${api.port}`;
  });
  after(() => api.close());

  const transports: [string, () => Transport][] = [
    [
      "Connect JSON over HTTP/1.1",
      () => createConnectTransport({ baseUrl: base, httpVersion: "1.1", useBinaryFormat: false }),
    ],
    [
      "Connect binary over h2c",
      () => createConnectTransport({ baseUrl: base, httpVersion: "2", useBinaryFormat: true }),
    ],
    ["gRPC over h2c", () => createGrpcTransport({ baseUrl: base })],
  ];

  for (const [name, transport] of transports) {
    it(`${name}: rejects a missing or wrong key`, async () => {
      const client = createClient(ChatService, transport());
      for (const headers of [
        {} as Record<string, string>,
        { authorization: "Bearer nope" },
        { authorization: KEY },
      ]) {
        await assert.rejects(client.history({ room: "lobby" }, { headers }), (err: unknown) => {
          assert.ok(err instanceof ConnectError);
          assert.equal(err.code, Code.Unauthenticated);
          return true;
        });
      }
    });

    it(`${name}: publish then history round-trips, a repeated id is a duplicate`, async () => {
      const client = createClient(ChatService, transport());
      const room = `api.${name.replace(/[^A-Za-z0-9]/g, "")}`;
      const body = { text: "hi", list: [1, true, null], nested: { a: "b" } };
      const p1 = await client.publish({ room, id: "evt-1", body: value(body) }, auth(KEY));
      assert.deepEqual([p1.seq, p1.prev, p1.id, p1.duplicate], [1n, 0n, "evt-1", false]);
      const p2 = await client.publish(
        { room, from: "billing", body: value("second") },
        auth("old-key-abcdef"),
      );
      assert.equal(p2.seq, 2n);
      assert.match(p2.id, /^[0-9a-f-]{36}$/);
      const again = await client.publish({ room, id: "evt-1", body: value(body) }, auth(KEY));
      assert.deepEqual([again.seq, again.duplicate], [1n, true]);
      const h = await client.history({ room, since: 0n, limit: 10 }, auth(KEY));
      assert.deepEqual([h.complete, h.headSeq, h.messages.length], [true, 2n, 2]);
      assert.deepEqual(h.messages[0]?.body, value(body));
      assert.deepEqual(
        [h.messages[0]?.from, h.messages[1]?.from, h.messages[1]?.body],
        ["system", "billing", value("second")],
      );
      const frames = fleet.deliveries.filter((d) => d.room === room);
      assert.deepEqual(
        frames.map((d) => d.seq),
        [1n, 2n, 1n],
      );
      const msg = JSON.parse(new TextDecoder().decode(frames[0]?.payload)) as Record<string, unknown>;
      assert.deepEqual(
        [msg.type, msg.room, msg.seq, msg.from, msg.body],
        ["message", room, 1, "system", body],
      );
    });
  }

  it("answers InvalidArgument for a bad room or a missing body and Unavailable during an outage", async () => {
    const client = createClient(ChatService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));
    const code = (p: Promise<unknown>) =>
      p.then(
        () => "ok",
        (e: unknown) => (e instanceof ConnectError ? Code[e.code] : String(e)),
      );
    assert.equal(await code(client.publish({ room: "a b", body: value(1) }, auth(KEY))), "InvalidArgument");
    assert.equal(await code(client.publish({ room: "lobby" }, auth(KEY))), "InvalidArgument");
    assert.equal(
      await code(client.publish({ room: "lobby", body: value("x".repeat(2000)) }, auth(KEY))),
      "InvalidArgument",
    );
    store.setUnavailable(true);
    try {
      assert.equal(await code(client.publish({ room: "lobby", body: value(1) }, auth(KEY))), "Unavailable");
      assert.equal(await code(client.history({ room: "lobby" }, auth(KEY))), "Unavailable");
    } finally {
      store.setUnavailable(false);
    }
  });

  it("works with the documented curl commands (HTTP/1.1 and h2c prior knowledge)", async () => {
    // curl runs as a child process: the server lives in this process and must keep serving.
    const url = `${base}/chatcluster.v1.ChatService/Publish`;
    const json = ["-H", "Content-Type: application/json", "-d", '{"room":"lobby","body":{"text":"hi"}}'];
    const withKey = ["-sS", "--max-time", "10", "-H", `Authorization: Bearer ${KEY}`, ...json];
    const r1 = await run("curl", [...withKey, url]);
    assert.match(r1.stdout, /^\{"seq":"\d+",("prev":"\d+",)?"id":"[0-9a-f-]+"\}$/);
    const r2 = await run("curl", [...withKey, "--http2-prior-knowledge", url]);
    assert.match(r2.stdout, /"seq":"\d+"/);
    const denied = await run("curl", [
      "-s",
      "--max-time",
      "10",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      ...json,
      url,
    ]);
    assert.equal(denied.stdout, "401");
  });
});
