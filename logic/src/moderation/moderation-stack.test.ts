import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { DurationSchema, timestampDate } from "@bufbuild/protobuf/wkt";
import type { TestClient } from "../../../gateway/src/edge/testing/test-client.ts";
import { type NatsServer, startNats } from "../../../testenv/harness/index.ts";
import { type StackFixture, startStackFixture } from "../testing/stack-fixture.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends into `room` as fast as answers come back (one in flight), until the socket closes; returns the acked ids. */
async function sendUntilClosed(c: TestClient, room: string, tag: string): Promise<string[]> {
  const acked: string[] = [];
  for (let i = 0; ; i++) {
    if (c.ws.readyState !== c.ws.OPEN) return acked;
    c.send({ type: "send", room, id: `${tag}-${i}`, body: i });
    for (;;) {
      const f = c.frames.find((x) => (x.type === "ack" || x.type === "error") && x.id === `${tag}-${i}`);
      if (f !== undefined) {
        if (f.type === "ack") acked.push(f.id);
        break;
      }
      if (c.ws.readyState !== c.ws.OPEN) return acked;
      await sleep(2);
    }
  }
}

async function refusedAuth(f: StackFixture, token: string, gateway: number): Promise<[string, number]> {
  const c = await f.client({ token }, gateway, false);
  const err = await c.next("error");
  return [err.code, await c.waitClosed()];
}

for (const store of ["sqlite", "nats"] as const) {
  describe(`moderation with real processes (store=${store})`, () => {
    let f: StackFixture;
    let nats: NatsServer | undefined;
    before(async () => {
      if (store === "nats") nats = await startNats({ name: "moderation-stack" });
      f = await startStackFixture({ store, ...(nats ? { natsUrl: nats.url } : {}) });
    });
    after(async () => {
      await f?.stop();
      await nats?.stop();
    });

    it("a ban racing sends: every connection closes, nothing is stored after, the next auth is refused", async () => {
      const room = "race.room";
      const conns = [await f.client("mallory", 0), await f.client("mallory", 1)];
      const senders = conns.map((c, i) => sendUntilClosed(c, room, `m${i}`));
      while (conns.some((c) => c.frames.filter((x) => x.type === "ack").length < 10)) await sleep(10);
      await f.reachable("mallory", 2, 1);
      const api = f.api(1);
      const banned = await api.ban({ user: "mallory", reason: "spam" }, f.auth);
      assert.equal(banned.gateways, 2);
      assert.equal(banned.expiresAt, undefined, "no duration: for good");
      for (const c of conns) {
        assert.equal(await c.waitClosed(), 4007);
        assert.deepEqual(
          c.frames.find((x) => x.type === "disconnect"),
          { type: "disconnect", code: 4007, reason: "spam", reconnect: false },
        );
      }
      const acked = (await Promise.all(senders)).flat();
      assert.ok(acked.length >= 20);
      const head = (await api.history({ room, limit: 1 }, f.auth)).headSeq;
      // Longer than the moderation sync: a send still in flight anywhere would have landed by now.
      await sleep(1000);
      const all = await api.history({ room, since: 0n, limit: 1000 }, f.auth);
      assert.equal(all.headSeq, head, "nothing stored after the connections closed");
      const stored = new Set(all.messages.map((m) => m.id));
      assert.deepEqual(
        acked.filter((id) => !stored.has(id)),
        [],
        "every acknowledged message is in history",
      );
      const token = await f.token("mallory");
      for (const gw of [0, 1])
        assert.deepEqual(await refusedAuth(f, token, gw), ["banned", 4007], `gateway ${gw}`);
      assert.equal((await f.api(0).unban({ user: "mallory" }, f.auth)).wasBanned, true);
      await f.client({ token }, 1);
    });

    it("a ban with a duration ends by itself", async () => {
      const r = await f
        .api(0)
        .ban(
          { user: "brief", duration: create(DurationSchema, { seconds: 1n }), reason: "cool off" },
          f.auth,
        );
      const until = timestampDate(r.expiresAt ?? ({ seconds: 0n, nanos: 0 } as never)).getTime();
      assert.ok(until > Date.now() && until <= Date.now() + 1100);
      const token = await f.token("brief");
      assert.deepEqual(await refusedAuth(f, token, 0), ["banned", 4007]);
      await sleep(Math.max(0, until - Date.now()) + 50);
      await f.client({ token }, 0);
    });

    it("revoking a token closes the connections that use it and refuses it, other tokens stay", async () => {
      const revoked = await f.token("carol", { jti: "carol-1" });
      const other = await f.token("carol", { jti: "carol-2" });
      const a = await f.client({ token: revoked }, 0);
      const b = await f.client({ token: other }, 1);
      const r = await f.api(0).revokeToken({ tokenId: "carol-1" }, f.auth);
      assert.equal(r.gateways, 2, "without the user: every gateway");
      assert.equal(await a.waitClosed(), 4001);
      assert.deepEqual(
        a.frames.find((x) => x.type === "disconnect"),
        { type: "disconnect", code: 4001, reason: "token revoked", reconnect: true },
      );
      b.send({ type: "ping" });
      await b.next("pong");
      assert.deepEqual(await refusedAuth(f, revoked, 1), ["token_revoked", 4001]);
      await f.client({ token: await f.token("carol", { jti: "carol-3" }) }, 0);
    });

    it("bans outlive the logic processes", async () => {
      await f.api(1).ban({ user: "dave", reason: "for the record" }, f.auth);
      await f.restart("logic", 0, "SIGKILL");
      await f.restart("logic", 1, "SIGKILL");
      const token = await f.token("dave");
      for (const gw of [0, 1]) assert.deepEqual(await refusedAuth(f, token, gw), ["banned", 4007]);
    });
  });
}
