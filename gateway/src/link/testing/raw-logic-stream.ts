import type * as http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type LogicFrame, LogicFrameSchema } from "../../../../gen/chatcluster/v1/gateway_stream_pb.js";
import {
  type RawFrame,
  RawLogicFrameSchema,
  rawStreamMessages,
} from "../../../../protocol/push-stream/testing/raw-gateway-service.ts";

/** A LogicFrame as the raw frame a bare stream sends. */
export function rawFrame(frame: LogicFrame): RawFrame {
  return fromBinary(RawLogicFrameSchema, toBinary(LogicFrameSchema, frame));
}

/** A LogicHello as a raw frame. */
export function rawHello(logicId = "raw", protocolVersion = 1): RawFrame {
  return rawFrame(
    create(LogicFrameSchema, { kind: { case: "hello", value: { logicId, epoch: "e", protocolVersion } } }),
  );
}

/**
 * TEST ONLY: StreamMessages on a gateway's internal port from a bare client
 * (no fleet): sends `frames`, keeps the request open for `holdMs` so that the
 * gateway has to end the stream, and reads until the status. Resolves with
 * the ConnectError, or undefined when the stream ended OK. `nodeOptions`
 * carries TLS (CA, client certificate) for an https:// baseUrl.
 */
export async function rawLogicStream(
  baseUrl: string,
  frames: readonly RawFrame[],
  headers: Record<string, string>,
  o: { holdMs?: number; nodeOptions?: http2.SecureClientSessionOptions } = {},
): Promise<ConnectError | undefined> {
  const transport = createGrpcTransport({
    baseUrl,
    ...(o.nodeOptions ? { nodeOptions: o.nodeOptions } : {}),
  });
  async function* input() {
    yield* frames;
    await new Promise((r) => setTimeout(r, o.holdMs ?? 2000));
  }
  try {
    const res = await transport.stream(rawStreamMessages, undefined, 10_000, headers, input());
    for await (const _ of res.message) {
      // hello, snapshot and acks of an accepted stream: read on until the status.
    }
    return undefined;
  } catch (err) {
    return ConnectError.from(err);
  }
}
