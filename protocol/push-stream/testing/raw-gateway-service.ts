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
 * TESTS AND TOOLS ONLY: GatewayService.StreamMessages with field-less request
 * and response types.
 *
 * The wire format is exactly chatcluster.v1.GatewayService (same path, same
 * bytes). protobuf-es keeps every field of a field-less message as raw bytes
 * in `$unknown`, so a Connect client of this service sends and receives
 * frames it built or decodes itself: hostile and malformed frames included.
 * The two ends of the push stream do not use Connect at all: they frame the
 * messages with envelope() and EnvelopeReader (../envelope.ts); see
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
