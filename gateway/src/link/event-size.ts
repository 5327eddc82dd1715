import type { ClientEvent } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";

/** Tags, lengths, ids and numbers of an event and its principal, rounded up. */
const FIXED_BYTES = 48;

/**
 * About how many bytes an event takes on the wire and in memory until logic
 * answers it: its strings (as UTF-16 units, exact for the ASCII of rooms,
 * ids and tokens) and byte fields plus a fixed allowance, without encoding
 * it. The pending-event budget counts this; the event is encoded only once,
 * in its batch.
 */
export function estimateEventBytes(e: ClientEvent): number {
  let n = FIXED_BYTES;
  const p = e.principal;
  if (p !== undefined) {
    n += p.userId.length;
    for (const r of p.read) n += r.length + 2;
    for (const w of p.write) n += w.length + 2;
  }
  const k = e.kind;
  switch (k.case) {
    case "auth":
      return n + k.value.token.length + k.value.remoteAddress.length;
    case "send":
      return n + k.value.room.length + k.value.clientMsgId.length + k.value.body.byteLength;
    case "signal":
      return (
        n +
        k.value.room.length +
        k.value.signalKind.length +
        k.value.body.byteLength +
        k.value.connection.length
      );
    case "presenceChange":
      return n + k.value.room.length + k.value.userId.length;
    case "presenceQuery":
      return n + k.value.room.length + k.value.after.length;
    case "readMarker": {
      n += k.value.room.length + k.value.notify.length;
      for (const u of k.value.users) n += u.length + 2;
      return n;
    }
    case "join":
    case "leave":
      return n + k.value.room.length;
    default:
      return n;
  }
}
