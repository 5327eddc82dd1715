import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Deployment, V1EnvVar, V1StatefulSet } from "@kubernetes/client-node";
import { chatCluster } from "../testing/fixtures.ts";
import { buildDesired, type DesiredOptions } from "./index.ts";
import { internalTokenSecret, readTokenSecret, type TokenSecretState } from "./internal-token.ts";
import { childNames } from "./names.ts";
import { AUTH_REVISION_ANNOTATION, TOKEN_GENERATION_ANNOTATION } from "./pod-common.ts";

const OPTS: DesiredOptions = {
  defaultImage: "ghcr.io/chatcluster/chatcluster:0.1.0",
  serviceMonitorAvailable: false,
};

function workloads(opts: DesiredOptions) {
  const { objects } = buildDesired(chatCluster(), opts);
  const sts = objects.find((o) => o.kind === "StatefulSet") as V1StatefulSet;
  const dep = objects.find((o) => o.kind === "Deployment") as V1Deployment;
  const env = (w: V1StatefulSet | V1Deployment) =>
    new Map((w.spec?.template.spec?.containers[0]?.env ?? []).map((e: V1EnvVar) => [e.name, e]));
  return {
    gateway: { annotations: sts.spec?.template.metadata?.annotations ?? {}, env: env(sts) },
    logic: { annotations: dep.spec?.template.metadata?.annotations ?? {}, env: env(dep) },
  };
}

describe("pod templates and the secrets they read at start", () => {
  it("leave the templates as they were while no secret was ever replaced", () => {
    const plain = workloads(OPTS);
    const zero = workloads({ ...OPTS, secretRolls: { tokenGeneration: 0, authRevision: 0 } });
    assert.deepEqual(zero, plain);
    for (const tier of [plain.gateway, plain.logic]) {
      assert.equal(tier.annotations[TOKEN_GENERATION_ANNOTATION], undefined);
      assert.equal(tier.env.has("CHATCLUSTER_INTERNAL_SECRET_PREVIOUS"), false);
    }
  });

  it("roll both tiers on a new token generation, and give them the previous token while it exists", () => {
    const w = workloads({ ...OPTS, secretRolls: { tokenGeneration: 2, authRevision: 0 } });
    for (const tier of [w.gateway, w.logic]) {
      assert.equal(tier.annotations[TOKEN_GENERATION_ANNOTATION], "2");
      // Optional: the key is gone once every pod runs the new token, and pods still start.
      assert.deepEqual(tier.env.get("CHATCLUSTER_INTERNAL_SECRET_PREVIOUS")?.valueFrom, {
        secretKeyRef: { name: "demo-internal-token", key: "previous", optional: true },
      });
    }
  });

  it("roll logic alone on a new value in the auth Secrets", () => {
    const before = workloads(OPTS);
    const after = workloads({ ...OPTS, secretRolls: { tokenGeneration: 0, authRevision: 1 } });
    assert.equal(after.logic.annotations[AUTH_REVISION_ANNOTATION], "1");
    assert.deepEqual(after.gateway, before.gateway);
  });
});

describe("the internal token Secret", () => {
  it("records the tokens, the generation, the answered request and the auth fingerprint, and reads them back", () => {
    const state: TokenSecretState = {
      token: "t2",
      previous: "t1",
      generation: 3,
      answered: "2026-12-01",
      authFingerprint: "ab12",
      authRevision: 4,
    };
    const secret = internalTokenSecret(chatCluster(), childNames("demo"), state);
    assert.deepEqual(readTokenSecret(secret), state);
    assert.equal(Buffer.from(secret.data?.previous ?? "", "base64").toString(), "t1");
  });

  it("reads a Secret the 0.1 operator made (stringData, no annotations) as never rotated", () => {
    const made = {
      data: { token: Buffer.from("t0").toString("base64") },
      metadata: { name: "demo-internal-token" },
    };
    assert.deepEqual(readTokenSecret(made), {
      token: "t0",
      previous: undefined,
      generation: undefined,
      answered: undefined,
      authFingerprint: undefined,
      authRevision: 0,
    });
    const fresh = internalTokenSecret(chatCluster(), childNames("demo"), readTokenSecret(made));
    assert.equal(fresh.metadata?.annotations, undefined);
    assert.deepEqual(Object.keys(fresh.data ?? {}), ["token"]);
  });
});
