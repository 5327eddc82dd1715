// Bad peers against a real gateway process: each gets a clear Connect status
// and the healthy logic stream next to them keeps delivering.
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { after, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import { Registry } from "prom-client";
import { LogicFrameSchema } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { StaticDiscovery } from "../../../logic/src/discovery/index.ts";
import { metricValue, testFleet, waitFor } from "../../../logic/src/link/testing/fleet-harness.ts";
import { createLogger } from "../../../platform/logger.ts";
import { envelope, SECRET_HEADER } from "../../../protocol/push-stream/index.ts";
import {
  type RawFrame,
  RawLogicFrameSchema,
} from "../../../protocol/push-stream/testing/raw-gateway-service.ts";
import { createLogicLinkServer } from "./logic-link-server.ts";
import { GatewayProcess } from "./testing/gateway-process.ts";
import { rawFrame, rawHello, rawLogicStream } from "./testing/raw-logic-stream.ts";

const SECRET = "s3cret-for-tests";
const MAX_FRAME = 64 * 1024;
const gw = await GatewayProcess.start({ gatewayId: "guard-0", secret: SECRET, maxFrameBytes: MAX_FRAME });
after(() => gw.dispose());

const hello = (version = 1) => rawHello("bad", version);

/** Opens a stream, sends frames, reads until the status; resolves with the error (or undefined). */
function exchange(frames: RawFrame[], headers: Record<string, string>): Promise<ConnectError | undefined> {
  // Keep the request open: the gateway must end the stream, not us.
  return rawLogicStream(`http://${gw.address}`, frames, headers, { holdMs: 3000 });
}

test("bad streams get a clear status and do not disturb a healthy one", async (t) => {
  await gw.rooms("r");
  const { fleet } = testFleet(new StaticDiscovery([gw.address]), "good-logic", { secret: SECRET });
  t.after(() => fleet.stop());
  await fleet.start();
  await waitFor("healthy stream", () => fleet.stats()[0]?.rooms === 1);
  const auth = { [SECRET_HEADER]: SECRET };

  const noSecret = await exchange([hello()], {});
  assert.equal(noSecret?.code, Code.Unauthenticated);
  assert.match(noSecret?.rawMessage ?? "", /unauthenticated: missing or wrong x-chatcluster-link-secret/);

  const wrongSecret = await exchange([hello()], { [SECRET_HEADER]: "nope" });
  assert.equal(wrongSecret?.code, Code.Unauthenticated);

  const noHello = await exchange(
    [rawFrame(create(LogicFrameSchema, { kind: { case: "ping", value: { nonce: 1n } } }))],
    auth,
  );
  assert.equal(noHello?.code, Code.FailedPrecondition);
  assert.match(noHello?.rawMessage ?? "", /bad_hello: first frame is ping/);

  const future = await exchange([hello(2)], auth);
  assert.equal(future?.code, Code.FailedPrecondition);
  assert.match(future?.rawMessage ?? "", /protocol_version 2/);

  // A DeliveryBatch whose first delivery claims 100 bytes it does not have.
  const garbage: RawFrame = {
    $typeName: RawLogicFrameSchema.typeName,
    $unknown: [{ no: 2, wireType: 2, data: new Uint8Array([3, 0x12, 100, 0x0a]) }],
  };
  const malformed = await exchange([hello(), garbage], auth);
  assert.equal(malformed?.code, Code.InvalidArgument);
  assert.match(malformed?.rawMessage ?? "", /malformed_frame: DeliveryBatch: length past the end/);

  const big = rawFrame(
    create(LogicFrameSchema, {
      kind: {
        case: "deliveries",
        value: { batchSeq: 1n, deliveries: [{ room: "r", seq: 1n, payload: new Uint8Array(MAX_FRAME + 1) }] },
      },
    }),
  );
  const oversized = await exchange([hello(), big], auth);
  assert.equal(oversized?.code, Code.ResourceExhausted);
  assert.match(oversized?.rawMessage ?? "", /larger than configured readMaxBytes/);

  // The healthy stream never noticed.
  fleet.deliverToRoom("r", 1n, new Uint8Array([1]));
  const s = await gw.waitDeliveries(1);
  assert.equal(s.deliveries, 1);
  assert.equal(s.connectedStreams, 1);
  assert.equal(fleet.connectedGateways(), 1);
  const text = await gw.metrics();
  assert.equal(
    metricValue(text, "chatcluster_gateway_link_streams_rejected_total", 'reason="unauthenticated"'),
    2,
  );
  assert.equal(metricValue(text, "chatcluster_gateway_link_streams_rejected_total", 'reason="bad_hello"'), 2);
  assert.equal(
    metricValue(text, "chatcluster_gateway_link_streams_rejected_total", 'reason="malformed_frame"'),
    1,
  );
  assert.equal(
    metricValue(text, "chatcluster_gateway_link_streams_rejected_total", 'reason="oversized_frame"'),
    1,
  );
});

test("a hello after the hello timeout is refused and opens no stream", async (t) => {
  const registry = new Registry();
  const server = createLogicLinkServer({
    sink: { deliver: () => {}, reply: () => {}, expired: () => {} },
    gatewayId: "late-hello",
    epoch: "e",
    registry,
    log: createLogger("gateway", "error"),
    host: "127.0.0.1",
    port: 0,
    helloTimeoutMs: 200,
  });
  const { port } = await server.listen();
  t.after(() => server.close());
  // Raw HTTP/2: a Connect client would cancel its request on the status,
  // while this peer keeps writing after it.
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.after(() => session.destroy());
  const stream = session.request({
    ":method": "POST",
    ":path": "/chatcluster.v1.GatewayService/StreamMessages",
    "content-type": "application/grpc+proto",
    te: "trailers",
  });
  const status = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve));
  stream.on("error", () => {});
  await new Promise((r) => setTimeout(r, 400));
  stream.write(envelope(toBinary(RawLogicFrameSchema, hello())));
  const headers = await status;
  assert.equal(headers["grpc-status"], String(Code.DeadlineExceeded));
  assert.match(decodeURIComponent(String(headers["grpc-message"])), /hello_timeout/);
  await new Promise((r) => setTimeout(r, 300)); // the late hello has arrived by now
  assert.equal(server.link.connectedStreams(), 0);
  session.destroy();
  await new Promise((r) => setTimeout(r, 100));
  const text = await registry.metrics();
  const rejected = (reason: string) =>
    metricValue(text, "chatcluster_gateway_link_streams_rejected_total", `reason="${reason}"`);
  assert.equal(rejected("hello_timeout"), 1);
  assert.equal(rejected("bad_hello"), 0, "the close after the refusal counted again");
});
