import { create, toBinary } from "@bufbuild/protobuf";
import { type ConnectionCommand, DeliverySchema } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { varintSize } from "../../../protocol/push-stream/index.ts";
import type { Settled, SettledEntry } from "./outbound-queue.ts";

const EMPTY = new Uint8Array(0);

/**
 * A Delivery carrying a server API command, as an entry of a gateway's queue:
 * it travels in the delivery batches (so it keeps its order with the messages
 * queued around it, and counts against the same bounds), and `onSettled`
 * hears, once per gateway queue it is in, whether that gateway acknowledged
 * it (it applies a command before it acknowledges the batch). Rare, so it is
 * encoded with the generated schema, once however many gateways it goes to.
 */
export function commandEntry(
  key: string,
  command: ConnectionCommand,
  payload: Uint8Array,
  onSettled: Settled,
): SettledEntry {
  const head = toBinary(DeliverySchema, create(DeliverySchema, { room: key, payload, command }));
  const size = head.byteLength;
  return { head, tail: EMPTY, trail: EMPTY, size, wireSize: 1 + varintSize(size) + size, onSettled };
}
