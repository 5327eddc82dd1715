// Sequential baselines against baseline-server.ts: each function sends `n`
// messages of about 1.2 KB and resolves with messages per second.

import { once } from "node:events";
import * as http from "node:http";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  GatewayService,
  type LogicFrame,
  LogicFrameSchema,
} from "../../gen/chatcluster/v1/gateway_stream_pb.js";
import { grpcBenchService, writeStreamHeader } from "./grpc-bench-service.ts";

export const PAYLOAD_BYTES = 1200;

function rate(n: number, startMs: number): number {
  return Math.round((n / (performance.now() - startMs)) * 1000);
}

/** REST over HTTP/1.1: POST a JSON body, wait for the answer, next. */
export async function restBaseline(port: number, n: number, keepAlive: boolean): Promise<number> {
  const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
  const text = "x".repeat(PAYLOAD_BYTES - 40);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const body = JSON.stringify({ room: "bench", seq: i, body: text });
    await new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port,
          path: "/push",
          method: "POST",
          agent,
          // New connections rotate source addresses so 10k TIME_WAIT sockets
          // do not exhaust one address's ephemeral ports.
          localAddress: keepAlive ? undefined : `127.0.0.${2 + (i % 250)}`,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            ...(keepAlive ? {} : { connection: "close" }),
          },
        },
        (res) => {
          res.resume();
          res.on("end", resolve);
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }
  const r = rate(n, t0);
  if (agent) agent.destroy();
  return r;
}

interface PushClient extends grpc.Client {
  Push(arg: Buffer, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): grpc.ClientUnaryCall;
  Stream(): grpc.ClientDuplexStream<Buffer, Buffer>;
}

function grpcClient(port: number): PushClient {
  const Ctor = grpc.makeGenericClientConstructor(grpcBenchService, "Push");
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as PushClient;
}

/** grpc-js unary: one call per message, awaited. */
export async function grpcUnaryBaseline(port: number, n: number): Promise<number> {
  const client = grpcClient(port);
  const msg = Buffer.alloc(PAYLOAD_BYTES, 1);
  await new Promise<void>((resolve, reject) => client.Push(msg, (err) => (err ? reject(err) : resolve())));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) => client.Push(msg, (err) => (err ? reject(err) : resolve())));
  }
  const r = rate(n, t0);
  client.close();
  return r;
}

/** grpc-js bidi stream: n writes (respecting backpressure), one answer after the last. */
export async function grpcStreamBaseline(port: number, n: number): Promise<number> {
  const client = grpcClient(port);
  const call = client.Stream();
  const done = once(call, "data");
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const msg = Buffer.alloc(PAYLOAD_BYTES, 1);
    writeStreamHeader(msg, i, n);
    if (!call.write(msg)) await once(call, "drain");
  }
  await done;
  const r = rate(n, t0);
  call.end();
  client.close();
  return r;
}

/**
 * Connect bidi stream with the generated schema: `batch` Deliveries per frame,
 * encoded and decoded by Connect's own pipeline (protobuf-es). With 1 it is
 * the design note's unbatched stream; with the production fleet's batch size
 * it is the production path without the hand-written framing.
 */
export async function connectStreamBaseline(port: number, n: number, batch = 1): Promise<number> {
  const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
  const client = createClient(GatewayService, transport);
  const payload = new Uint8Array(PAYLOAD_BYTES - 16).fill(1);
  async function* frames(): AsyncGenerator<LogicFrame> {
    let batchSeq = 0n;
    for (let i = 0; i < n; ) {
      const deliveries = [];
      for (const end = Math.min(n, i + batch); i < end; i++)
        deliveries.push({ room: "bench", seq: i === 0 ? BigInt(n) : BigInt(i), payload });
      yield create(LogicFrameSchema, {
        kind: { case: "deliveries", value: { batchSeq: ++batchSeq, deliveries } },
      });
    }
  }
  const t0 = performance.now();
  for await (const _ of client.streamMessages(frames())) break;
  return rate(n, t0);
}
