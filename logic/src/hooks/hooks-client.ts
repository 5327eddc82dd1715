import { Agent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ChatHooks } from "../../../gen/chatcluster/v1/chat_hooks_pb.js";

export interface HooksClientOptions {
  /** Base URL of the team's service (http:// or https://). */
  readonly url: string;
  /** connect: Connect JSON over HTTP/1.1; grpc: gRPC over HTTP/2. */
  readonly protocol: "connect" | "grpc";
  /** Sent as `Authorization: Bearer <secret>`; empty sends none. */
  readonly secret: string;
  /** Sockets kept to the service over HTTP/1.1: the sum of the hooks' concurrency limits. */
  readonly maxSockets: number;
}

/**
 * A Connect client of the team's ChatHooks service. Over HTTP/1.1 the
 * sockets are kept alive and bounded by the hooks' concurrency (one request
 * per socket at a time); over HTTP/2 one session carries every call.
 */
export function createHooksClient(o: HooksClientOptions): Client<typeof ChatHooks> {
  const interceptors: Interceptor[] = [];
  if (o.secret !== "") {
    const authorization = `Bearer ${o.secret}`;
    interceptors.push((next) => (req) => {
      req.header.set("authorization", authorization);
      return next(req);
    });
  }
  if (o.protocol === "grpc") {
    return createClient(ChatHooks, createGrpcTransport({ baseUrl: o.url, interceptors }));
  }
  const agentOptions = { keepAlive: true, maxSockets: o.maxSockets };
  const agent = o.url.startsWith("https:") ? new HttpsAgent(agentOptions) : new Agent(agentOptions);
  return createClient(
    ChatHooks,
    createConnectTransport({
      baseUrl: o.url,
      httpVersion: "1.1",
      useBinaryFormat: false,
      interceptors,
      nodeOptions: { agent },
    }),
  );
}
