// Wire compatibility of the hand-framed push stream with an independent gRPC
// implementation (@grpc/grpc-js), in both directions: a grpc-js client against
// the gateway's server end, and the logic fleet against a grpc-js server.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Registry } from "prom-client";
import { createLogicLinkServer } from "../../gateway/src/link/logic-link-server.ts";
import {
  type Delivery,
  type GatewayFrame,
  GatewayFrameSchema,
  type LogicFrame,
  LogicFrameSchema,
} from "../../gen/chatcluster/v1/gateway_stream_pb.js";
import { StaticDiscovery } from "../../logic/src/discovery/index.ts";
import { createGatewayFleet } from "../../logic/src/link/index.ts";
import { createLogger } from "../../platform/logger.ts";
import { STREAM_MESSAGES_PATH } from "./index.ts";

const log = createLogger("interop", "silent");
const identity = (b: Buffer) => b;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const logicFrame = (kind: MessageInitShape<typeof LogicFrameSchema>["kind"]) =>
  Buffer.from(toBinary(LogicFrameSchema, create(LogicFrameSchema, { kind })));

test("a grpc-js client speaks to the gateway's end of the push stream", async () => {
  const delivered: Delivery[] = [];
  const server = createLogicLinkServer({
    sink: { deliver: (ds) => delivered.push(...ds), reply: () => {}, expired: () => {} },
    gatewayId: "gw-interop",
    epoch: "e1",
    registry: new Registry(),
    log,
    host: "127.0.0.1",
    port: 0,
  });
  const { port } = await server.listen();
  cleanups.push(() => server.close());
  server.link.roomAdded("r");
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());

  const frames: GatewayFrame[] = [];
  const call = client.makeBidiStreamRequest(STREAM_MESSAGES_PATH, identity, identity);
  let status: grpc.StatusObject | undefined;
  call.on("data", (b: Buffer) => frames.push(fromBinary(GatewayFrameSchema, b)));
  call.on("status", (s: grpc.StatusObject) => {
    status = s;
  });
  call.on("error", () => {});
  call.write(logicFrame({ case: "hello", value: { logicId: "grpc-js", epoch: "x", protocolVersion: 1 } }));
  await until("hello and snapshot", () => frames.some((f) => f.kind.case === "interestSnapshot"));
  assert.equal(frames[0]?.kind.case, "hello");
  const snapshot = frames.find((f) => f.kind.case === "interestSnapshot");
  assert.deepEqual(snapshot?.kind.case === "interestSnapshot" && snapshot.kind.value.rooms, ["r"]);

  call.write(
    logicFrame({
      case: "deliveries",
      value: { batchSeq: 1n, deliveries: [{ room: "r", seq: 7n, payload: new Uint8Array([1, 2, 3]) }] },
    }),
  );
  await until("delivery and ack", () => frames.some((f) => f.kind.case === "deliveryAck"));
  assert.deepEqual(
    [delivered[0]?.room, delivered[0]?.seq, [...(delivered[0]?.payload ?? [])]],
    ["r", 7n, [1, 2, 3]],
  );
  call.write(logicFrame({ case: "ping", value: { nonce: 42n } }));
  await until("pong", () => frames.some((f) => f.kind.case === "pong" && f.kind.value.nonce === 42n));
  call.end();
  await until("status after half-close", () => status !== undefined);
  assert.equal(status?.code, grpc.status.OK, JSON.stringify(status));

  // A bad first frame: a status grpc-js understands, message readable as sent.
  const bad = client.makeBidiStreamRequest(STREAM_MESSAGES_PATH, identity, identity);
  let badStatus: grpc.StatusObject | undefined;
  bad.on("data", () => {});
  bad.on("error", () => {});
  bad.on("status", (s: grpc.StatusObject) => {
    badStatus = s;
  });
  bad.write(logicFrame({ case: "ping", value: { nonce: 1n } }));
  await until("bad_hello status", () => badStatus !== undefined);
  assert.equal(badStatus?.code, grpc.status.FAILED_PRECONDITION);
  assert.match(badStatus?.details ?? "", /bad_hello/);
});

test("the logic fleet speaks to a grpc-js server", async () => {
  const received: LogicFrame[] = [];
  let calls = 0;
  const server = new grpc.Server();
  server.register(
    STREAM_MESSAGES_PATH,
    (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const n = ++calls;
      const send = (kind: MessageInitShape<typeof GatewayFrameSchema>["kind"]) =>
        call.write(Buffer.from(toBinary(GatewayFrameSchema, create(GatewayFrameSchema, { kind }))));
      call.on("data", (b: Buffer) => {
        const f = fromBinary(LogicFrameSchema, b);
        received.push(f);
        if (f.kind.case === "hello") {
          send({ case: "hello", value: { gatewayId: "grpc-js-gw", epoch: "g1", protocolVersion: 1 } });
          send({ case: "interestSnapshot", value: { rooms: ["r"], version: 1n } });
        } else if (f.kind.case === "deliveries") {
          send({ case: "deliveryAck", value: { throughBatchSeq: f.kind.value.batchSeq } });
          // The first call ends with an error after a message: the fleet must reconnect.
          if (n === 1) call.emit("error", { code: grpc.status.RESOURCE_EXHAUSTED, details: "full é" });
        }
      });
      call.on("error", () => {});
    },
    identity,
    identity,
    "bidi",
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  cleanups.push(() => server.forceShutdown());
  const fleet = createGatewayFleet({
    discovery: new StaticDiscovery([`127.0.0.1:${port}`]),
    logicId: "logic-interop",
    epoch: "l1",
    sink: { onEvents: () => {} },
    registry: new Registry(),
    log,
  });
  await fleet.start();
  cleanups.push(() => fleet.stop());
  await until("stream ready", () => fleet.stats()[0]?.rooms === 1);
  fleet.deliverToRoom("r", 5n, new Uint8Array([9, 8, 7]));
  await until("a delivery batch at the grpc-js server", () =>
    received.some((f) => f.kind.case === "deliveries"),
  );
  const batch = received.find((f) => f.kind.case === "deliveries");
  assert.ok(batch?.kind.case === "deliveries");
  assert.deepEqual(
    batch.kind.value.deliveries.map((d) => [d.room, d.seq, [...d.payload]]),
    [["r", 5n, [9, 8, 7]]],
  );
  // The error status ended the first call; the fleet reconnects and says hello again.
  await until(
    "a second call",
    () => calls >= 2 && received.filter((f) => f.kind.case === "hello").length >= 2,
  );
  await until("ready again", () => fleet.stats()[0]?.state === "ready" && fleet.stats()[0]?.rooms === 1);
  fleet.deliverToRoom("r", 6n, new Uint8Array([6]));
  await until("delivery on the second call", () =>
    received.some((f) => f.kind.case === "deliveries" && f.kind.value.deliveries.some((d) => d.seq === 6n)),
  );
});
