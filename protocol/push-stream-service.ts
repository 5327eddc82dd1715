import {
  create,
  createFileRegistry,
  type DescMessage,
  type DescMethodBiDiStreaming,
  type DescService,
  type Message,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/**
 * GatewayService.StreamMessages with field-less request and response types.
 *
 * The wire format is exactly chatcluster.v1.GatewayService (same path, same
 * bytes); only the in-process decoding differs. protobuf-es keeps every field
 * of a field-less message as raw bytes in `$unknown`, so Connect hands us the
 * frame undecoded and we decode the hot kinds (DeliveryBatch) with a
 * hand-written codec and the rest with the generated schemas. Measured on this
 * machine, fromBinary of a 256-delivery batch costs ~2 µs per delivery (toBinary
 * ~7.7 µs), a large share of the 150k msg/s budget; see
 * docs/push-stream.md.
 */
const file = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "chatcluster/v1/gateway_stream_raw.proto",
    package: "chatcluster.v1",
    syntax: "proto3",
    messageType: [{ name: "RawLogicFrame" }, { name: "RawGatewayFrame" }],
    service: [
      {
        name: "GatewayService",
        method: [
          {
            name: "StreamMessages",
            inputType: ".chatcluster.v1.RawLogicFrame",
            outputType: ".chatcluster.v1.RawGatewayFrame",
            clientStreaming: true,
            serverStreaming: true,
          },
        ],
      },
    ],
  }),
  () => undefined,
);

const service = file.getService("chatcluster.v1.GatewayService");
if (service === undefined) throw new Error("raw GatewayService descriptor missing");

/** A frame kept as raw fields: one `$unknown` entry per top-level field. */
export type RawFrame = Message;

const method = service.methods[0];
if (method === undefined || method.methodKind !== "bidi_streaming")
  throw new Error("raw StreamMessages descriptor wrong");

/** The raw service, for routers; its path is /chatcluster.v1.GatewayService/StreamMessages. */
export const RawGatewayService: DescService = service;
export const rawStreamMessages = method as DescMethodBiDiStreaming;
export const RawLogicFrameSchema: DescMessage = rawStreamMessages.input;
export const RawGatewayFrameSchema: DescMessage = rawStreamMessages.output;
