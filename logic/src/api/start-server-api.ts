import type { AddressInfo } from "node:net";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ChatService } from "../../../gen/chatcluster/v1/chat_api_pb.js";
import type { ApiMethod } from "../handlers/logic-metrics.ts";
import type { ChatServiceDeps } from "./api-deps.ts";
import { createApiKeyCheck } from "./api-keys.ts";
import { createChatService } from "./chat-service.ts";
import { createDualProtocolServer } from "./dual-protocol-server.ts";

export interface ServerApiOptions extends ChatServiceDeps {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Accepted API keys (`loadApiKeys`); with none, every call is refused. */
  readonly keys: readonly string[];
}

export interface ServerApi {
  readonly port: number;
  /** Stops accepting, ends open connections, resolves when closed. */
  close(): Promise<void>;
}

/** Largest request the API reads: the body limit plus room for the envelope. */
const MAX_REQUEST_OVERHEAD_BYTES = 16 * 1024;

/**
 * Serves ChatService (Connect JSON and binary, gRPC, gRPC-Web) on one cleartext
 * port speaking HTTP/1.1 and h2c. Every call needs `Authorization: Bearer <key>`.
 */
export async function startServerApi(opts: ServerApiOptions): Promise<ServerApi> {
  const log = opts.log.child({ part: "server-api" });
  if (opts.keys.length === 0) log.warn("no server API keys configured: every call will be refused");
  const check = createApiKeyCheck(opts.keys);
  const requireKey: Interceptor = (next) => async (req) => {
    if (!check(req.header.get("authorization"))) {
      opts.metrics.apiRequests.inc({ method: req.method.name as ApiMethod, result: "unauthenticated" });
      throw new ConnectError(
        "missing or unknown API key (Authorization: Bearer <key>)",
        Code.Unauthenticated,
      );
    }
    return next(req);
  };
  const handler = connectNodeAdapter({
    routes: (router) => router.service(ChatService, createChatService({ ...opts, log })),
    interceptors: [requireKey],
    readMaxBytes: opts.limits.maxBodyBytes * 2 + MAX_REQUEST_OVERHEAD_BYTES,
  });
  const { server, closeAll } = createDualProtocolServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: opts.host, port }, "server api listening");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        closeAll();
      }),
  };
}
