import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { SignJWT } from "jose";
import type { DevStack } from "../../../dev/dev-stack.ts";
import { startLoopbackStack } from "../../../dev/loopback-stack.ts";
import { TestClient } from "../../../gateway/src/edge/testing/test-client.ts";
import { ChatService } from "../../../gen/chatcluster/v1/chat_api_pb.js";

/**
 * TESTS ONLY: the dev stack (real gateway and logic processes) with what the
 * server API and hooks tests need: tokens, authenticated raw clients on a
 * chosen gateway, a server API client with the stack's key, and metrics.
 */
/** A raw client and the connection id its welcome gave it ("" without one). */
export type StackClient = TestClient & { readonly connectionId: string };

export interface StackFixture {
  readonly stack: DevStack;
  readonly output: string[];
  /** An HS256 token the stack accepts; `claims` add to or replace the defaults (every room). */
  token(user: string, claims?: Record<string, unknown>): Promise<string>;
  /** A client on gateway `gateway` after its welcome (or after the refusal, with `expectWelcome: false`). */
  client(user: string | { token: string }, gateway?: number, expectWelcome?: boolean): Promise<StackClient>;
  /** The server API of logic process `logic` (Connect JSON over HTTP/1.1). */
  api(logic?: number): Client<typeof ChatService>;
  /** Call options with the stack's API key. */
  readonly auth: { headers: { authorization: string } };
  /**
   * Resolves once logic process `logic` routes commands for `user` to
   * `gateways` gateways: a welcome reaches the client before its gateway's
   * interest in the user reaches every logic process.
   */
  reachable(user: string, gateways: number, logic?: number): Promise<void>;
  /** Stops a process with `signal`; resolves when the stack restarted it and it is ready again. */
  restart(role: "gateway" | "logic", index: number, signal: NodeJS.Signals): Promise<void>;
  /** The /metrics text of a process. */
  metrics(role: "gateway" | "logic", index: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startStackFixture(opts: {
  gateways?: number;
  logic?: number;
  store?: "sqlite" | "nats";
  natsUrl?: string;
  logicArgs?: readonly string[];
}): Promise<StackFixture> {
  const dataDir = await mkdtemp(join(tmpdir(), "cc-stack-"));
  const output: string[] = [];
  let stack: DevStack;
  try {
    stack = await startLoopbackStack({ dataDir, ...opts }, (line) => output.push(line));
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw new Error(`stack did not start: ${String(err)}\n${output.slice(-30).join("\n")}`);
  }
  const secret = new TextEncoder().encode(readFileSync(join(dataDir, "dev-jwt-secret"), "utf8").trim());
  const clients: TestClient[] = [];
  const token = (user: string, claims: Record<string, unknown> = {}) =>
    new SignJWT({ rooms: { read: [">"], write: [">"] }, ...claims })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(user)
      .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
      .sign(secret);
  const auth = { headers: { authorization: `Bearer ${stack.apiKey}` } };
  const api = (logic = 0) => {
    const baseUrl = stack.apiUrls[logic];
    if (baseUrl === undefined) throw new Error(`no logic ${logic}`);
    return createClient(ChatService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
  };
  return {
    stack,
    output,
    token,
    auth,
    async client(user, gateway = 0, expectWelcome = true) {
      const url = stack.gatewayUrls[gateway];
      if (url === undefined) throw new Error(`no gateway ${gateway}`);
      const c = await TestClient.open(url);
      clients.push(c);
      c.send({ type: "auth", token: typeof user === "string" ? await token(user) : user.token });
      const connectionId = expectWelcome ? (await c.next("welcome")).connection_id : "";
      return Object.assign(c, { connectionId });
    },
    api,
    async reachable(user, gateways, logic = 0) {
      const client = api(logic);
      const deadline = Date.now() + 20_000;
      // A disconnect narrowed to a gateway that does not exist: every gateway with the user acks it, none acts.
      while (
        (await client.disconnect({ user, connection: "reachable-probe/1" }, auth)).gateways !== gateways
      ) {
        if (Date.now() > deadline)
          throw new Error(`${user} not on ${gateways} gateways as logic-${logic} sees it`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async restart(role, index, signal) {
      const p = (role === "gateway" ? stack.gateways : stack.logic)[index];
      const t = stack.opsTargets.find((x) => x.name === `${role}-${index}`);
      const pid = p?.pid();
      if (p === undefined || t === undefined || pid === undefined)
        throw new Error(`${role}-${index} is not running`);
      const starts = p.starts();
      process.kill(pid, signal);
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (p.starts() > starts && p.pid() !== undefined) {
          const ok = await fetch(`http://${t.address}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
            (r) => r.ok,
            () => false,
          );
          if (ok) return;
        }
        if (Date.now() > deadline) throw new Error(`${role}-${index} did not come back`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async metrics(role, index) {
      const t = stack.opsTargets.find((x) => x.name === `${role}-${index}`);
      if (t === undefined) throw new Error(`no ${role}-${index}`);
      return (await fetch(`http://${t.address}/metrics`)).text();
    },
    async stop() {
      for (const c of clients) c.ws.terminate();
      await stack.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The value of one sample in a /metrics text (0 when absent). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([^{\s]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return 0;
}
