/**
 * What the operator tells and what it keeps, on a real control plane with kwok
 * pods: status says in words why pods are missing (a Secret or key that does
 * not exist, pods a quota refuses, an object the API server rejects), the
 * SQLite volume outlives its ChatCluster unless told otherwise, and the CRD
 * refuses store changes that would strand data, saying how to migrate.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type ControlPlane,
  needsReal,
  startControlPlane,
  trackFailures,
} from "../../testenv/harness/index.ts";
import { KubeApi, resourcePath } from "./kube-api.ts";
import { clusterHelpers, type Obj } from "./testing/cluster-helpers.ts";
import { eventually, type OperatorProcess, spawnOperator } from "./testing/operator-process.ts";

const NS = "status";

function manifest(name: string, spec: string[]): string {
  return [
    "apiVersion: chatcluster.io/v1alpha1",
    "kind: ChatCluster",
    `metadata: {name: ${name}}`,
    "spec:",
    ...spec.map((l) => `  ${l}`),
    "",
  ].join("\n");
}
const AUTH = "auth: {jwt: {secretKeyRef: {name: chat-auth}}}";
const NATS = "store: {nats: {url: 'nats://nats:4222'}}";

describe("operator status and data safety on a real control plane", {
  timeout: 600_000,
  skip: needsReal("a control plane (make testenv)"),
}, () => {
  const failed = trackFailures();
  let cp: ControlPlane;
  let dir: string;
  let api: KubeApi;
  let op: OperatorProcess;
  const { kubectl, get, tryGet, applyYaml, installCrd, applySecret } = clusterHelpers(
    () => (args) => cp.kubectl(args),
    NS,
    () => dir,
  );
  /** `kubectl patch --type=merge` of a ChatCluster's spec: refusals come back as kubectl's error text. */
  const patchSpec = (name: string, spec: unknown) =>
    kubectl("patch", "chatcluster", name, "-n", NS, "--type=merge", "-p", JSON.stringify({ spec }));
  const condition = (cc: Obj, type: string) =>
    cc.status?.conditions?.find((c: { type: string }) => c.type === type) as
      | { status: string; reason: string; message: string }
      | undefined;
  /** Pokes the ChatCluster (Secrets are read, not watched) until its condition matches. */
  const conditionOf = (
    name: string,
    type: string,
    check: (c: { status: string; reason: string; message: string }) => boolean,
  ) =>
    eventually(
      `${name} ${type} condition`,
      async () => {
        await api.mergePatch(resourcePath("ChatCluster", NS, name), {
          metadata: { annotations: { "test.chatcluster.io/poke": String(Date.now()) } },
        });
        const cc = await get("chatcluster", name);
        const c = condition(cc, type);
        return cc.status?.observedGeneration === cc.metadata.generation && c !== undefined && check(c)
          ? c
          : undefined;
      },
      120_000,
    );

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "chatcluster-operator-status-"));
    cp = await startControlPlane({ kwok: true, name: "operator-status" });
    api = new KubeApi(cp.kubeConfig);
    await installCrd();
    await kubectl("create", "namespace", NS);
    await applySecret("chat-auth", { secret: "0123456789abcdef0123456789abcdef" });
    op = await spawnOperator(cp.kubeconfigPath, "op-status", cp.logsDir, ["--leader-elect=false"]);
  });

  after(async () => {
    await op?.stop();
    if (failed()) console.error(`--- operator log tail\n${op?.logTail(60)}`);
    api?.close();
    await cp?.stop({ failed: failed() });
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("reports Ready=False SecretNotFound naming the Secret and the key until they exist", async () => {
    await applyYaml(
      "keys.yaml",
      manifest("keys", [
        NATS,
        "auth: {jwt: {secretKeyRef: {name: idp}}, apiKeys: {secretKeyRef: {name: chat-auth, key: api-keys}}}",
      ]),
    );
    const missing = await conditionOf("keys", "Ready", (c) => c.reason === "SecretNotFound");
    assert.equal(missing.status, "False");
    assert.match(
      missing.message,
      /^Secret idp \(key secret, from spec\.auth\.jwt\.secretKeyRef\) does not exist in namespace status/,
    );
    await applySecret("idp", { secret: "s" });
    const noKey = await conditionOf("keys", "Ready", (c) => /has no key/.test(c.message));
    assert.equal(noKey.reason, "SecretNotFound");
    assert.match(
      noKey.message,
      /^Secret chat-auth has no key api-keys \(from spec\.auth\.apiKeys\.secretKeyRef\); its keys are secret\./,
    );
    await applySecret("chat-auth", { secret: "s", "api-keys": "k" });
    const ready = await conditionOf("keys", "Ready", (c) => c.status === "True");
    assert.equal(ready.reason, "AllReplicasReady");
  });

  it("says which gateway pods a quota refuses, from the StatefulSet's FailedCreate events", async () => {
    await kubectl("create", "namespace", "quota");
    await applySecret("chat-auth", { secret: "s" }, "quota");
    await kubectl("create", "quota", "pods", "-n", "quota", "--hard=pods=2");
    await eventually("the quota has its usage computed", async () => {
      const q = JSON.parse(await kubectl("get", "quota", "pods", "-n", "quota", "-o", "json"));
      return q.status?.used?.pods !== undefined ? true : undefined;
    });
    const path = join(dir, "quota.yaml");
    writeFileSync(path, manifest("q", ["gateway: {replicas: 3}", "logic: {replicas: 1}", NATS, AUTH]));
    await kubectl("apply", "-n", "quota", "-f", path);
    const stuck = await eventually(
      "Ready=False FailedCreate",
      async () => {
        const cc = JSON.parse(await kubectl("get", "chatcluster", "q", "-n", "quota", "-o", "json")) as Obj;
        const c = condition(cc, "Ready");
        return c?.reason === "FailedCreate"
          ? { ready: c, progressing: condition(cc, "Progressing") }
          : undefined;
      },
      120_000,
    );
    assert.match(
      stuck.ready.message,
      /^The StatefulSet q-gateway cannot create gateway pods: .*exceeded quota: pods/,
    );
    assert.equal(stuck.progressing?.status, "False");
    assert.equal(stuck.progressing?.reason, "FailedCreate");
  });

  it("summarises an object the API server rejects in one sentence", async () => {
    // The CRD refuses what it can see; a podTemplate patch is checked when the StatefulSet is applied.
    await applyYaml(
      "bad.yaml",
      manifest("bad", [NATS, AUTH, "gateway: {podTemplate: {spec: {dnsPolicy: Bogus}}}"]),
    );
    const degraded = await conditionOf("bad", "Degraded", (c) => c.status === "True");
    assert.equal(degraded.reason, "ReconcileFailed");
    assert.match(
      degraded.message,
      /^The API server refused StatefulSet bad-gateway as invalid: spec\.template\.spec\.dnsPolicy: Unsupported value: "Bogus": supported values: /,
    );
    assert.doesNotMatch(degraded.message, /PATCH|\/apis\/|422/);
    await kubectl("delete", "chatcluster", "bad", "-n", NS);
  });

  it("keeps the SQLite volume claim when its ChatCluster is deleted, unless deletePolicy is Delete", async () => {
    const lite = (extra: string) =>
      manifest("lite", ["logic: {replicas: 1}", `store: {sqlite: {size: 1Gi${extra}}}`, AUTH]);
    await applyYaml("lite.yaml", lite(""));
    const pvc = await eventually("PVC lite-logic-data", () =>
      tryGet("persistentvolumeclaim", "lite-logic-data"),
    );
    assert.equal(pvc.metadata.ownerReferences, undefined);
    await kubectl("delete", "chatcluster", "lite", "-n", NS, "--wait=true");
    await eventually("the logic Deployment collected", async () =>
      (await tryGet("deployment", "lite-logic")) === undefined ? true : undefined,
    );
    const kept = await get("persistentvolumeclaim", "lite-logic-data");
    assert.equal(kept.metadata.uid, pvc.metadata.uid, "the claim survived its ChatCluster");

    // A ChatCluster of the same name takes the claim (and its database) over.
    await applyYaml("lite.yaml", lite(", deletePolicy: Delete"));
    const dep = await eventually("Deployment lite-logic", () => tryGet("deployment", "lite-logic"));
    assert.ok(
      dep.spec.template.spec.volumes.some(
        (v: { persistentVolumeClaim?: { claimName: string } }) =>
          v.persistentVolumeClaim?.claimName === "lite-logic-data",
      ),
    );
    const owned = await eventually("the claim owned by the new ChatCluster", async () => {
      const c = await get("persistentvolumeclaim", "lite-logic-data");
      return c.metadata.ownerReferences?.[0]?.kind === "ChatCluster" ? c : undefined;
    });
    assert.equal(owned.metadata.uid, pvc.metadata.uid);
    await kubectl("delete", "chatcluster", "lite", "-n", NS, "--wait=true");
    await eventually(
      "the claim deleted with its ChatCluster",
      async () =>
        (await tryGet("persistentvolumeclaim", "lite-logic-data")) === undefined ? true : undefined,
      120_000,
    );
  });

  it("refuses a store switch and a stream rename, saying how to migrate", async () => {
    await applyYaml("lite2.yaml", manifest("lite2", ["logic: {replicas: 1}", "store: {sqlite: {}}", AUTH]));
    await assert.rejects(
      patchSpec("lite2", { store: { sqlite: null, nats: { url: "nats://n:4222" } } }),
      /spec\.store cannot switch from sqlite to nats on a live ChatCluster: messages stay in the old store and are not copied\. To migrate, create a new ChatCluster with the new store, move clients to it, then delete this one/,
    );
    await applyYaml("stream.yaml", manifest("stream", [NATS, AUTH]));
    await assert.rejects(
      patchSpec("stream", { store: { nats: { stream: { name: "OTHER" } } } }),
      /store\.nats\.stream\.name cannot change from CHATCLUSTER to OTHER on a live ChatCluster: .*Set it back to CHATCLUSTER, or create a new ChatCluster with stream OTHER, move clients to it, then delete this one/,
    );
    // Other store fields still change.
    await patchSpec("stream", { store: { nats: { stream: { maxAge: "24h" } } } });
  });
});
