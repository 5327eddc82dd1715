import type { AddressInfo } from "node:net";
import type { ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ChatHooks } from "../../../../gen/chatcluster/v1/chat_hooks_pb.js";
import { createDualProtocolServer } from "../../api/dual-protocol-server.ts";

type Impl = Partial<ServiceImpl<typeof ChatHooks>>;

/**
 * TESTS ONLY: a team's hooks service, served for real (connect-node on one
 * port speaking HTTP/1.1 and h2c, so both `--hooks-protocol`s reach it),
 * whose behaviour a test sets and changes through `impl`. Records the
 * authorization header of every call.
 */
export interface HooksFixture {
  readonly url: string;
  /** What each method does now; a missing method answers unimplemented. */
  impl: Impl;
  /** Authorization headers seen, in call order. */
  readonly authorizations: (string | null)[];
  close(): Promise<void>;
}

export async function startHooksFixture(impl: Impl = {}): Promise<HooksFixture> {
  const authorizations: (string | null)[] = [];
  const fixture = { impl } as { impl: Impl };
  // Every method delegates to the current impl, so a test may swap it at any time.
  const delegate: Impl = {
    connect: (req, ctx) => call("connect", req, ctx),
    join: (req, ctx) => call("join", req, ctx),
    send: (req, ctx) => call("send", req, ctx),
    rpc: (req, ctx) => call("rpc", req, ctx),
  };
  function call<K extends keyof Impl>(name: K, req: unknown, ctx: unknown): never {
    const c = ctx as { requestHeader: Headers };
    authorizations.push(c.requestHeader.get("authorization"));
    const fn = fixture.impl[name] as ((r: unknown, c: unknown) => never) | undefined;
    if (fn === undefined) throw new Error(`${String(name)} is not implemented by this test`);
    return fn(req, ctx);
  }
  const handler = connectNodeAdapter({ routes: (router) => router.service(ChatHooks, delegate) });
  const { server, closeAll } = createDualProtocolServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get impl() {
      return fixture.impl;
    },
    set impl(next: Impl) {
      fixture.impl = next;
    },
    authorizations,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        closeAll();
      }),
  };
}
