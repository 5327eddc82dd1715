import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Secret } from "@kubernetes/client-node";
import { RetiredTokens } from "./retired-tokens.ts";

const secret = (name: string, instance: string, token: string, generation?: number): V1Secret => ({
  metadata: {
    name,
    namespace: "chat",
    labels: { "app.kubernetes.io/instance": instance },
    annotations:
      generation === undefined
        ? {}
        : ({ "chatcluster.io/token-generation": String(generation) } as Record<string, string>),
  },
  data: { token: Buffer.from(token).toString("base64") },
});

describe("RetiredTokens", () => {
  it("remembers the last token and generation of a deleted internal token Secret, and only those", () => {
    const r = new RetiredTokens();
    r.record(secret("demo-internal-token", "demo", "t1", 2));
    r.record(secret("demo-gateway-config", "demo", "not-a-token"));
    assert.deepEqual(r.get("chat", "demo"), { token: "t1", previous: undefined, generation: 2 });
    r.record(secret("other-internal-token", "other", "t9"));
    assert.deepEqual(r.get("chat", "other"), { token: "t9", previous: undefined, generation: 0 });
    r.forget("chat", "demo");
    assert.equal(r.get("chat", "demo"), undefined);
  });
});
