import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { after, describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Registry } from "prom-client";
import {
  type ClientEvent,
  ClientEventSchema,
  LogicFrameSchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { metricValue, waitFor } from "../../../logic/src/link/testing/fleet-harness.ts";
import { createLogger } from "../../../platform/logger.ts";
import { envelope, STREAM_MESSAGES_PATH } from "../../../protocol/push-stream/index.ts";
import { encodeClientEvent } from "./event-encoder.ts";
import { LinkCore, PENDING_OVERHEAD_BYTES } from "./link-core.ts";
import { createGatewayLinkMetrics } from "./link-metrics.ts";
import { createLogicLinkServer } from "./logic-link-server.ts";

const log = createLogger("gateway", "silent");
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function send(room: string, bodyBytes: number): ClientEvent {
  return create(ClientEventSchema, {
    connectionId: 7,
    principal: { userId: "alice", read: [">"], write: [">"] },
    kind: { case: "send", value: { room, clientMsgId: room, body: new Uint8Array(bodyBytes) } },
  });
}

async function metric(registry: Registry, name: string, reason: string): Promise<number> {
  return metricValue(await registry.metrics(), name, `reason="${reason}"`);
}

describe("the gateway link's bounds", () => {
  it("pending events are bounded in bytes, given up at their deadline oldest first, and freed then", async () => {
    const registry = new Registry();
    const expired: ClientEvent[][] = [];
    let core: LinkCore | undefined;
    const metrics = createGatewayLinkMetrics(registry, () => ({
      events: core?.pendingCount ?? 0,
      bytes: core?.pendingBytes ?? 0,
    }));
    const timeoutMs = 1000;
    core = new LinkCore(
      {
        gatewayId: "gw",
        epoch: "e",
        sink: { deliver() {}, reply() {}, expired: (e) => expired.push([...e]) },
        log,
        maxPendingEvents: 100,
        maxPendingEventBytes: 10_000,
        pendingEventTimeoutMs: timeoutMs,
        maxStreamBacklogBytes: 1024 * 1024,
        helloTimeoutMs: 1000,
        pingIntervalMs: 1000,
        deadAfterMs: 4000,
      },
      metrics,
    );
    const link = core;
    // No logic stream: the events wait for one, counted against the bounds.
    const first = send("a", 3000);
    assert.equal(link.send(first, "a"), true);
    assert.equal(link.backlogMs() < 30, true);
    await new Promise((r) => setTimeout(r, 30));
    assert.ok(link.backlogMs() >= 29, `the oldest unanswered event's age: ${link.backlogMs()} ms`);
    const secondAt = performance.now();
    const rest = [send("b", 3000), send("c", 3000)];
    for (const [i, e] of rest.entries()) assert.equal(link.send(e, `k${i}`), true);
    const held = [first, ...rest].reduce(
      (n, e) => n + encodeClientEvent(e).byteLength + PENDING_OVERHEAD_BYTES,
      0,
    );
    assert.equal(link.pendingBytes, held);
    assert.ok(held > 9000 && held <= 10_000, `three sends of 3000 bytes fit (${held})`);
    assert.equal(link.send(send("d", 3000), "d"), false, "a fourth does not: the bytes are at the bound");
    assert.equal(link.send(send("e", 10), "e"), true, "a small one still fits");
    assert.equal(await metric(registry, "chatcluster_gateway_link_drops_total", "pending_bytes_full"), 1);
    // Bookkeeping (a leave, a close) may use only half of the budget.
    const leave = create(ClientEventSchema, {
      connectionId: 7,
      kind: { case: "leave", value: { room: "a" } },
    });
    assert.equal(link.send(leave, "a"), false);

    link.tick(secondAt + timeoutMs - 1);
    assert.deepEqual(expired, [[first]], "only the event whose deadline passed, the oldest");
    link.tick(performance.now() + timeoutMs);
    assert.equal(expired.length, 2);
    const rooms = expired[1]?.map((e) => (e.kind.case === "send" ? e.kind.value.room : e.kind.case));
    assert.deepEqual(rooms, ["b", "c", "e"]);
    assert.equal(link.pendingCount, 0);
    assert.equal(link.pendingBytes, 0);
    assert.equal(link.backlogMs(), 0);
    assert.equal(await metric(registry, "chatcluster_gateway_link_drops_total", "deadline"), 4);
    assert.equal(link.send(send("f", 3000), "f"), true, "given-up events no longer count");
  });

  it("a stream logic does not read is reset once its backlog passes the bound", async () => {
    const { server, registry, stream } = await deafLogic(64 * 1024);
    const closed = new Promise<number>((resolve) =>
      stream.once("close", () => resolve(stream.rstCode ?? -1)),
    );
    // Interest changes flow to the stream: 10 KB of room names per turn.
    let turns = 0;
    while (server.link.connectedStreams() > 0) {
      assert.ok(turns++ < 1000, "the stream was never ended");
      addRooms(server, turns);
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(await metric(registry, "chatcluster_gateway_link_streams_closed_total", "backlog_full"), 1);
    // Reset at once, not ended behind the frames the peer never reads.
    assert.equal(await closed, http2.constants.NGHTTP2_CANCEL);
  });

  it("a stream logic does not read queues a few pongs and counts the rest", async () => {
    const { server, registry, stream } = await deafLogic(64 * 1024 * 1024);
    // 200 KB of interest: far more than the window and the stream's buffer, so the stream is blocked.
    for (let turn = 0; turn < 20; turn++) {
      addRooms(server, turn);
      await new Promise((r) => setTimeout(r, 1));
    }
    const ping = (nonce: bigint) =>
      envelope(
        toBinary(LogicFrameSchema, create(LogicFrameSchema, { kind: { case: "ping", value: { nonce } } })),
      );
    for (let i = 1n; i <= 20n; i++) stream.write(ping(i));
    const dropped = () => metric(registry, "chatcluster_gateway_link_drops_total", "control_full");
    await waitFor("16 pongs dropped", async () => (await dropped()) >= 16);
    assert.equal(await dropped(), 16, "four of twenty pongs wait for the stream; the rest are dropped");
    assert.equal(server.link.connectedStreams(), 1, "the stream itself stays");
  });
});

function addRooms(server: ReturnType<typeof createLogicLinkServer>, turn: number): void {
  for (let i = 0; i < 100; i++) server.link.roomAdded(`room-${turn}-${i}-${"x".repeat(90)}`);
}

/**
 * A gateway link server and a logic process that sends its hello and then
 * never reads: a 16 KiB receive window and no reader on the response.
 */
async function deafLogic(maxStreamBacklogBytes: number) {
  const registry = new Registry();
  const server = createLogicLinkServer({
    sink: { deliver() {}, reply() {}, expired() {} },
    gatewayId: "gw-deaf",
    epoch: "e",
    registry,
    log,
    host: "127.0.0.1",
    port: 0,
    maxStreamBacklogBytes,
  });
  const { port } = await server.listen();
  cleanups.push(() => server.close());
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 16 * 1024 } });
  cleanups.push(() => session.destroy());
  session.on("error", () => {});
  const stream = session.request({
    ":method": "POST",
    ":path": STREAM_MESSAGES_PATH,
    "content-type": "application/grpc+proto",
    te: "trailers",
  });
  stream.on("error", () => {});
  const hello = create(LogicFrameSchema, {
    kind: { case: "hello", value: { logicId: "deaf", epoch: "x", protocolVersion: 1 } },
  });
  stream.write(envelope(toBinary(LogicFrameSchema, hello)));
  await waitFor("the stream to open", () => server.link.connectedStreams() === 1);
  return { server, registry, stream };
}
