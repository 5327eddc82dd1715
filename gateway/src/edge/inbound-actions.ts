import { create } from "@bufbuild/protobuf";
import {
  DeleteRequestSchema,
  EditRequestSchema,
  RpcRequestSchema,
} from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { CallFrame } from "../../../protocol/call-frames.ts";
import { ERROR_CODES, encodeErrorFrame } from "../../../protocol/client-frames.ts";
import type { DeleteFrame, EditFrame } from "../../../protocol/edit-frames.ts";
import type { Connection } from "./connection.ts";
import type { InboundContext } from "./inbound-context.ts";

const utf8 = new TextEncoder();

/**
 * The JSON text of a client value, or undefined (after answering
 * `invalid_field` with `id`) when it nests too deeply: JSON.parse is
 * iterative but JSON.stringify recurses, so a value nested some thousands
 * deep (well within max_frame_bytes) would overflow the stack.
 */
export function jsonOf(
  ctx: InboundContext,
  conn: Connection,
  value: unknown,
  what: string,
  id: string,
): Uint8Array | undefined {
  try {
    return utf8.encode(JSON.stringify(value));
  } catch {
    ctx.send(
      conn,
      encodeErrorFrame({ code: ERROR_CODES.invalidField.code, message: `${what} is nested too deeply`, id }),
    );
    return undefined;
  }
}

/** A `call`: forwarded to logic (and its Rpc hook), routed by connection; the answer comes as a reply. */
export function handleCall(ctx: InboundContext, conn: Connection, f: CallFrame): void {
  const params =
    f.params === undefined ? new Uint8Array(0) : jsonOf(ctx, conn, f.params, "call.params", f.id);
  if (params === undefined) return;
  const req = create(RpcRequestSchema, { callId: f.id, method: f.method, params });
  if (!ctx.sendEvent(conn, { case: "rpc", value: req }, String(conn.id))) ctx.unavailable(conn, f.id);
}

/** An `edit` or `delete`: forwarded to logic like a send (routed by room, so it keeps its place among the room's sends). */
export function handleEdit(ctx: InboundContext, conn: Connection, f: EditFrame | DeleteFrame): void {
  const base = { room: f.room, clientMsgId: f.id, target: BigInt(f.target) };
  let kind: Parameters<InboundContext["sendEvent"]>[1];
  if (f.type === "edit") {
    const body = jsonOf(ctx, conn, f.body, "edit.body", f.id);
    if (body === undefined) return;
    kind = { case: "edit", value: create(EditRequestSchema, { ...base, body }) };
  } else {
    kind = { case: "delete", value: create(DeleteRequestSchema, base) };
  }
  if (!ctx.sendEvent(conn, kind, f.room)) ctx.unavailable(conn, f.id);
}
