import type * as grpc from "@grpc/grpc-js";

/**
 * A hand-written grpc-js service definition with Buffer pass-through
 * serializers: no proto-loader, no protobufjs, so the grpc-js numbers measure
 * the transport and not a codec.
 */
const passthrough = (b: Buffer) => b;

export const grpcBenchService: grpc.ServiceDefinition = {
  Push: {
    path: "/bench.v1.Push/Push",
    requestStream: false,
    responseStream: false,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
  },
  Stream: {
    path: "/bench.v1.Push/Stream",
    requestStream: true,
    responseStream: true,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
  },
};

/** Stream messages start with index and total (uint32 LE each), then the payload. */
export function writeStreamHeader(b: Buffer, index: number, total: number): void {
  b.writeUInt32LE(index, 0);
  b.writeUInt32LE(total, 4);
}

export function readStreamHeader(b: Buffer): { index: number; total: number } {
  return { index: b.readUInt32LE(0), total: b.readUInt32LE(4) };
}
