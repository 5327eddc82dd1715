import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { SignJWT } from "jose";
import { Registry } from "prom-client";
import { ClientEventSchema, type Reply } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { createLogger } from "../../../platform/logger.ts";
import { createAuthenticator } from "../auth/authenticator.ts";
import { ModerationList } from "../moderation/moderation-list.ts";
import { InMemoryModerationForTests } from "../store/testing/memory-moderation.ts";
import { InMemoryStoreForTests } from "../store/testing/memory-store.ts";
import { createHandlers } from "./create-handlers.ts";
import { createLogicMetrics } from "./logic-metrics.ts";
import { RecordingFleet } from "./testing/fake-fleet.ts";

const SECRET = "moderation-test-secret-0123456789abcdef";
const log = createLogger("moderation-test", "silent");

async function setup() {
  const store = new InMemoryModerationForTests();
  const moderation = new ModerationList(store, log);
  const fleet = new RecordingFleet();
  const auth = await createAuthenticator({
    jwtSecret: SECRET,
    jwtSecretFile: "",
    jwtPublicKeyFile: "",
    jwtJwksFile: "",
    jwtIssuer: "",
    jwtAudience: [],
    jwtClockTolerance: 0,
  });
  const sink = createHandlers({
    store: new InMemoryStoreForTests(),
    fleet,
    auth,
    metrics: createLogicMetrics(new Registry()),
    log,
    limits: { maxBodyBytes: 1024, maxHistoryPage: 10 },
    moderation,
  });
  let nextId = 1n;
  const run = async (ev: Parameters<typeof create<typeof ClientEventSchema>>[1]): Promise<Reply> => {
    const e = create(ClientEventSchema, { eventId: nextId++, connectionId: 3, ...ev });
    const before = fleet.replies.length;
    sink.onEvents({ id: "gw-0", epoch: "e" }, [e]);
    await fleet.untilReplies(before + 1);
    return fleet.replyTo(e.eventId);
  };
  return { store, moderation, run };
}

const token = (sub: string, jti?: string) =>
  new SignJWT({ rooms: { read: [">"], write: [">"] }, ...(jti ? { jti } : {}) })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
    .sign(new TextEncoder().encode(SECRET));

describe("bans and revocations in the handlers", () => {
  it("refuse an auth of a banned user or a revoked token, reading bans another process wrote", async () => {
    const { store, run } = await setup();
    await store.put({ kind: "ban", key: "eve", untilMs: 0, active: true, reason: "spam", atMs: 1 });
    await store.put({ kind: "token", key: "t-9", untilMs: 0, active: true, reason: "", atMs: 1 });
    const banned = await run({ kind: { case: "auth", value: { token: await token("eve") } } });
    assert.deepEqual(
      banned.kind.case === "auth" && [
        banned.kind.value.ok,
        banned.kind.value.errorCode,
        banned.kind.value.closeCode,
      ],
      [false, "banned", 4007],
    );
    const revoked = await run({ kind: { case: "auth", value: { token: await token("frank", "t-9") } } });
    assert.deepEqual(
      revoked.kind.case === "auth" && [revoked.kind.value.errorCode, revoked.kind.value.closeCode],
      ["token_revoked", 4001],
    );
    const ok = await run({ kind: { case: "auth", value: { token: await token("frank", "t-10") } } });
    assert.equal(ok.kind.case === "auth" && ok.kind.value.ok, true);
  });

  it("close a connection whose events come after its user's ban", async () => {
    const { moderation, run } = await setup();
    const principal = { userId: "gina", read: [">"], write: [">"], expiresAtMs: 0n, tokenId: "" };
    const send = () =>
      run({
        principal,
        kind: {
          case: "send",
          value: { room: "r", clientMsgId: `m${Math.random()}`, body: new TextEncoder().encode("1") },
        },
      });
    assert.equal((await send()).kind.case, "frame");
    moderation.record({ kind: "ban", key: "gina", untilMs: 0, active: true, reason: "", atMs: Date.now() });
    const r = await send();
    assert.deepEqual(r.kind.case === "close" && [r.kind.value.closeCode, r.kind.value.reason], [
      4007,
      "banned",
    ]);
  });
});
