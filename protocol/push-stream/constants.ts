/** The version of the push-stream protocol both hellos carry; a peer speaking another is refused. */
export const PROTOCOL_VERSION = 1;

/** The request header carrying the shared secret of the gateways' internal port, when one is configured. */
export const SECRET_HEADER = "x-chatcluster-link-secret";

/** The HTTP/2 path of chatcluster.v1.GatewayService/StreamMessages. */
export const STREAM_MESSAGES_PATH = "/chatcluster.v1.GatewayService/StreamMessages";

/** gRPC's length prefix: a flags byte and a big-endian uint32 length. */
export const ENVELOPE_HEADER_BYTES = 5;
