// The gateway applies a reply only to the event it answers: same event id,
// same connection, this process's epoch, and an auth (or join) result only for
// an auth (or join) event. Driven by a raw HTTP/2 peer standing in for logic,
// so it can send the replies a correct logic never would.
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { test } from "node:test";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Registry } from "prom-client";
import {
  type ClientEvent,
  ClientEventSchema,
  type GatewayFrame,
  GatewayFrameSchema,
  LogicFrameSchema,
  type Reply,
  ReplySchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { metricValue, waitFor } from "../../../logic/src/link/testing/fleet-harness.ts";
import { createLogger } from "../../../platform/logger.ts";
import { EnvelopeReader, envelope, STREAM_MESSAGES_PATH } from "../../../protocol/push-stream/index.ts";
import { createLogicLinkServer } from "./logic-link-server.ts";

const EPOCH = "epoch-now";

async function startGateway(t: { after(fn: () => unknown): void }) {
  const replies: Reply[] = [];
  const registry = new Registry();
  const server = createLogicLinkServer({
    sink: { deliver: () => {}, reply: (rs) => replies.push(...rs), expired: () => {} },
    gatewayId: "match-0",
    epoch: EPOCH,
    registry,
    log: createLogger("gateway", "error"),
    host: "127.0.0.1",
    port: 0,
  });
  const { port } = await server.listen();
  t.after(() => server.close());

  // The peer: a hello, then whatever the test writes; every GatewayFrame it gets is kept.
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.after(() => session.destroy());
  const stream = session.request({
    ":method": "POST",
    ":path": STREAM_MESSAGES_PATH,
    "content-type": "application/grpc+proto",
    te: "trailers",
  });
  stream.on("error", () => {});
  const frames: GatewayFrame[] = [];
  const reader = new EnvelopeReader(1 << 20, (m) => frames.push(fromBinary(GatewayFrameSchema, m)));
  stream.on("data", (chunk: Buffer) => reader.push(chunk));
  const write = (kind: MessageInitShape<typeof LogicFrameSchema>["kind"]) =>
    stream.write(envelope(toBinary(LogicFrameSchema, create(LogicFrameSchema, { kind }))));
  write({ case: "hello", value: { logicId: "peer", epoch: "l", protocolVersion: 1 } });
  await waitFor("stream open", () => server.link.connectedStreams() === 1);

  /** Sends an event through the link and returns it as logic received it. */
  const send = async (init: MessageInitShape<typeof ClientEventSchema>): Promise<ClientEvent> => {
    assert.ok(server.link.send(create(ClientEventSchema, init), "key"));
    let got: ClientEvent | undefined;
    await waitFor("event at the peer", () => {
      for (const f of frames) {
        if (f.kind.case !== "events") continue;
        got = f.kind.value.events.find(
          (e) => e.connectionId === init.connectionId && e.kind.case === init.kind?.case,
        );
      }
      return got !== undefined;
    });
    frames.length = 0;
    return got as ClientEvent;
  };
  const reply = (replies: MessageInitShape<typeof ReplySchema>[]) =>
    write({ case: "replies", value: { replies: replies.map((r) => create(ReplySchema, r)) } });
  const dropped = async (reason: string) =>
    metricValue(await registry.metrics(), "chatcluster_gateway_link_drops_total", `reason="${reason}"`);
  return { server, replies, send, reply, dropped };
}

const authOk = (userId: string): MessageInitShape<typeof ReplySchema>["kind"] => ({
  case: "auth",
  value: { ok: true, principal: { userId } },
});

test("an auth result reaches only the connection whose auth it answers, in this epoch", async (t) => {
  const g = await startGateway(t);
  const auth = await g.send({ connectionId: 7, kind: { case: "auth", value: { token: "t" } } });
  const base = { eventId: auth.eventId, gatewayEpoch: EPOCH };
  g.reply([
    { ...base, connectionId: 8, kind: authOk("mallory") }, // another connection
    { ...base, connectionId: 7, gatewayEpoch: "epoch-before", kind: authOk("mallory") }, // an earlier process
    { ...base, eventId: auth.eventId + 1n, connectionId: 7, kind: authOk("mallory") }, // no such event
  ]);
  await waitFor("three auth results refused", async () => (await g.dropped("unexpected_auth_reply")) === 3);
  assert.equal(g.replies.length, 0);
  assert.equal(await g.dropped("duplicate_reply"), 0);

  // The pending auth still gets its own answer, once.
  g.reply([{ ...base, connectionId: 7, kind: authOk("alice") }]);
  await waitFor("the real answer applied", () => g.replies.length === 1);
  const r = g.replies[0];
  assert.equal(r?.kind.case === "auth" && r.kind.value.principal?.userId, "alice");
  g.reply([{ ...base, connectionId: 7, kind: authOk("alice") }]);
  await waitFor("a second answer refused", async () => (await g.dropped("unexpected_auth_reply")) === 4);
  assert.equal(g.replies.length, 1);
});

test("auth and join results answer only events of their kind; other replies need the right connection", async (t) => {
  const g = await startGateway(t);
  const sendEv = await g.send({
    connectionId: 3,
    kind: { case: "send", value: { room: "r", clientMsgId: "m", body: new Uint8Array([0x7b, 0x7d]) } },
  });
  const base = { eventId: sendEv.eventId, gatewayEpoch: EPOCH };
  g.reply([
    { ...base, connectionId: 3, kind: authOk("mallory") },
    { ...base, connectionId: 3, kind: { case: "join", value: { ok: true, room: "r" } } },
    { ...base, connectionId: 4, kind: { case: "frame", value: new Uint8Array([1]) } },
  ]);
  await waitFor("refused", async () => (await g.dropped("mismatched_reply")) === 2);
  assert.equal(await g.dropped("unexpected_auth_reply"), 1);
  assert.equal(g.replies.length, 0);
  // Logic older than gateway_epoch (empty) is matched on event id and connection.
  g.reply([
    { eventId: sendEv.eventId, connectionId: 3, kind: { case: "frame", value: new Uint8Array([2]) } },
  ]);
  await waitFor("applied", () => g.replies.length === 1);
});

test("event ids start from a random 64-bit value in every process", async (t) => {
  const firsts: bigint[] = [];
  for (let i = 0; i < 2; i++) {
    const g = await startGateway(t);
    firsts.push((await g.send({ connectionId: 1, kind: { case: "leave", value: { room: "r" } } })).eventId);
  }
  assert.notEqual(firsts[0], firsts[1]);
  // The chance that a random start lands this low is 2^-32.
  for (const id of firsts) assert.ok((id as bigint) > 0xffff_ffffn, `event id ${id}`);
});

test("an auth event is answered only by its result or a close, so no auth stays in flight", async (t) => {
  const g = await startGateway(t);
  const auth = await g.send({ connectionId: 5, kind: { case: "auth", value: { token: "t" } } });
  const base = { eventId: auth.eventId, connectionId: 5, gatewayEpoch: EPOCH };
  g.reply([
    { ...base, kind: { case: "frame", value: new Uint8Array([1]) } },
    { ...base, kind: { case: "done", value: {} } },
  ]);
  await waitFor("both refused", async () => (await g.dropped("mismatched_reply")) === 2);
  assert.equal(g.replies.length, 0);
  g.reply([{ ...base, kind: { case: "close", value: { closeCode: 4001, reason: "bad token" } } }]);
  await waitFor("the close applied", () => g.replies.length === 1);
  assert.equal(g.replies[0]?.kind.case, "close");
});
