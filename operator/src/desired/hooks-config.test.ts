import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1ConfigMap, V1Deployment } from "@kubernetes/client-node";
import { chatCluster } from "../testing/fixtures.ts";
import { buildDesired, type DesiredOptions } from "./index.ts";

const OPTS: DesiredOptions = { defaultImage: "chatcluster:test", serviceMonitorAvailable: false };

function logicOf(spec: Parameters<typeof chatCluster>[0]) {
  const d = buildDesired(chatCluster(spec), OPTS);
  const cm = d.objects.find(
    (o) => o.kind === "ConfigMap" && o.metadata?.name === "demo-logic-config",
  ) as V1ConfigMap;
  const dep = d.objects.find((o) => o.kind === "Deployment") as V1Deployment;
  const env = dep.spec?.template.spec?.containers[0]?.env ?? [];
  return { data: cm.data ?? {}, env, hash: d.logicConfigHash };
}

describe("spec.logic.hooks", () => {
  it("renders each field set into logic's CHATCLUSTER_HOOK* variables and the secret into env", () => {
    const { data, env } = logicOf({
      logic: {
        hooks: {
          url: "http://hooks.team:8080",
          protocol: "grpc",
          secretKeyRef: { name: "team-hooks" },
          connect: { mode: "after", timeout: "300ms" },
          join: { rooms: ["team.>"], onFailure: "allow" },
          send: { rooms: ["lobby", "team.>"], concurrency: 32 },
          rpc: { methods: ["profile.*"] },
        },
      },
    });
    const hooks = Object.fromEntries(Object.entries(data).filter(([k]) => k.startsWith("CHATCLUSTER_HOOK")));
    assert.deepEqual(hooks, {
      CHATCLUSTER_HOOKS_URL: "http://hooks.team:8080",
      CHATCLUSTER_HOOKS_PROTOCOL: "grpc",
      CHATCLUSTER_HOOK_CONNECT: "after",
      CHATCLUSTER_HOOK_CONNECT_TIMEOUT: "300ms",
      CHATCLUSTER_HOOK_JOIN_ROOMS: "team.>",
      CHATCLUSTER_HOOK_JOIN_ON_FAILURE: "allow",
      CHATCLUSTER_HOOK_SEND_ROOMS: "lobby,team.>",
      CHATCLUSTER_HOOK_SEND_CONCURRENCY: "32",
      CHATCLUSTER_HOOK_RPC_METHODS: "profile.*",
    });
    assert.deepEqual(env.find((e) => e.name === "CHATCLUSTER_HOOKS_SECRET")?.valueFrom?.secretKeyRef, {
      name: "team-hooks",
      key: "hooks-secret",
    });
  });

  it("adds nothing without hooks, so clusters that use none keep their config hash; hooks change it", () => {
    const none = logicOf({});
    assert.deepEqual(
      Object.keys(none.data).filter((k) => k.startsWith("CHATCLUSTER_HOOK")),
      [],
    );
    assert.equal(
      none.env.find((e) => e.name === "CHATCLUSTER_HOOKS_SECRET"),
      undefined,
    );
    const withHooks = logicOf({ logic: { hooks: { url: "http://h:1", send: { rooms: [">"] } } } });
    assert.notEqual(withHooks.hash, none.hash);
    const withSecret = logicOf({
      logic: { hooks: { url: "http://h:1", send: { rooms: [">"] }, secretKeyRef: { name: "s" } } },
    });
    assert.notEqual(withSecret.hash, withHooks.hash, "naming another secret rolls the pods");
  });
});
