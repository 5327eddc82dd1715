// The receiving side of the baseline protocols, in its own process so that
// every measurement crosses a real process boundary: REST (HTTP/1.1 JSON),
// grpc-js unary and bidi stream (Buffer pass-through, no proto-loader), and a
// plain Connect bidi stream with the generated GatewayService schema (one
// delivery per frame, no batching). Reports its ports over IPC.
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  GatewayFrameSchema,
  GatewayService,
  type LogicFrame,
} from "../../gen/chatcluster/v1/gateway_stream_pb.js";
import { grpcBenchService, readStreamHeader } from "./grpc-bench-service.ts";

const ACK = Buffer.from([1]);

function listen(server: http.Server | http2.Http2Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

// REST: POST /push with a JSON body; 200 with a tiny JSON answer.
const rest = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { room: string };
    res
      .writeHead(200, { "content-type": "application/json" })
      .end(`{"ok":true,"room":${JSON.stringify(body.room)}}`);
  });
});
rest.keepAliveTimeout = 60_000;

// grpc-js: unary answers each message; the stream answers once when the last
// message (per the 8-byte header of every message) arrived.
const grpcServer = new grpc.Server();
grpcServer.addService(grpcBenchService, {
  Push: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, ACK),
  Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    call.on("data", (b: Buffer) => {
      const { index, total } = readStreamHeader(b);
      if (index === total - 1) call.write(ACK);
    });
    call.on("end", () => call.end());
  },
});
const grpcPort = await new Promise<number>((resolve, reject) =>
  grpcServer.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
    err ? reject(err) : resolve(port),
  ),
);

// Connect, unbatched: the real schema, one Delivery per LogicFrame. The first
// delivery's seq carries the total; a DeliveryAck goes back after the last.
const connectHandler = connectNodeAdapter({
  routes: (router: ConnectRouter) =>
    router.service(GatewayService, {
      async *streamMessages(requests: AsyncIterable<LogicFrame>) {
        let count = 0n;
        let total = -1n;
        for await (const f of requests) {
          if (f.kind.case !== "deliveries") continue;
          for (const d of f.kind.value.deliveries) {
            if (total < 0n) total = d.seq;
            count++;
          }
          if (count === total) {
            yield create(GatewayFrameSchema, {
              kind: { case: "deliveryAck", value: { throughBatchSeq: count } },
            });
          }
        }
      },
    }),
  grpc: true,
  connect: false,
  grpcWeb: false,
});
const connectServer = http2.createServer(
  { settings: { initialWindowSize: 8 * 1024 * 1024 } },
  connectHandler,
);

const ports = {
  rest: await listen(rest),
  grpc: grpcPort,
  connect: await listen(connectServer),
};
process.send?.({ ready: true, ports });
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
