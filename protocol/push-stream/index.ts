// The push stream's wire, shared by its two ends (gateway/src/link,
// logic/src/link): constants, the gRPC envelope, the protobuf primitives the
// hand-written codecs are built on, and the one error of bytes that do not
// decode. Each end keeps only its own hot encoder or decoder. See
// docs/push-stream.md.

export { ENVELOPE_HEADER_BYTES, PROTOCOL_VERSION, SECRET_HEADER, STREAM_MESSAGES_PATH } from "./constants.ts";
export { EnvelopeReader, envelope } from "./envelope.ts";
export { bigVarintSize, varintSize, writeBigVarint, writeVarint } from "./varint-writer.ts";
export { WIRE_ERROR_CODES, WireError, type WireErrorCode } from "./wire-error.ts";
export { WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, WireReader } from "./wire-reader.ts";
