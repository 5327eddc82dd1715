import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ChatHooks, ChatHooksSendResponseSchema } from "../gen/chatcluster/v1/chat_hooks_pb.js";

/**
 * A small hooks service, as a team would write one with connect-node
 * (docs/hooks.md quotes it). `make dev HOOKS_EXAMPLE=1` starts it and points
 * the logic processes at it, so the demo page shows the rules working:
 *
 * - Send: a word on the list is masked (`darn` -> `d***`), and a message in
 *   capitals only is refused with the code `no_shouting`.
 * - Join: every room gets a topic in its `joined` frame; `vip.*` rooms only
 *   admit users whose name starts with `vip`.
 * - Rpc: `dice.roll` answers a number from 1 to 6.
 */
const MASKED = ["darn", "heck"];

function mask(text: string): string {
  return MASKED.reduce(
    (t, word) => t.replace(new RegExp(`\\b${word}\\b`, "gi"), (w) => `${w[0]}${"*".repeat(w.length - 1)}`),
    text,
  );
}

export function routes(router: ConnectRouter): void {
  router.service(ChatHooks, {
    // The demo has no Connect hook enabled; a team's would check its own session here.
    connect() {
      throw new ConnectError("the example does not decide identities", Code.Unimplemented);
    },
    join(req) {
      if (req.room.startsWith("vip.") && !req.user?.userId.startsWith("vip"))
        return { refuse: { code: "vip_only", message: "this room is for VIPs" } };
      return { data: fromJson(ValueSchema, { topic: `Welcome to #${req.room}` }) };
    },
    send(req) {
      const body = req.body === undefined ? null : toJson(ValueSchema, req.body);
      if (typeof body !== "object" || body === null || Array.isArray(body)) return {};
      const text = (body as { [k: string]: JsonValue }).text;
      if (typeof text !== "string") return {};
      const letters = text.replace(/[^A-Za-z]/g, "");
      if (letters.length >= 8 && letters === letters.toUpperCase())
        return { refuse: { code: "no_shouting", message: "please do not shout" } };
      const masked = mask(text);
      if (masked === text) return {};
      return create(ChatHooksSendResponseSchema, { body: fromJson(ValueSchema, { ...body, text: masked }) });
    },
    rpc(req) {
      if (req.method === "dice.roll")
        return { result: fromJson(ValueSchema, { roll: 1 + Math.floor(Math.random() * 6) }) };
      return { error: { code: "not_found", message: `no method ${req.method}` } };
    },
  });
}

/** Serves the example (Connect JSON over HTTP/1.1) on host:port; port 0 picks one. */
export async function startHooksExample(
  host: string,
  port: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(connectNodeAdapter({ routes }));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${bound}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
