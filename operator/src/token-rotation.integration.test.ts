/**
 * Secret rotation on a real control plane with kwok pods: a requested or
 * forced (deleted Secret) internal token rotation rolls logic, then the
 * gateways one pod at a time, while the Secret holds the previous token;
 * the previous token goes only once no pod of the old generation is left
 * running. A new value in an auth Secret rolls logic alone. A Secret deleted
 * while no operator ran is reported, never replaced by a token the pods do
 * not know.
 *
 * Order is read from one pod watch and one Secret watch on the same API
 * server: resourceVersions are etcd revisions, so a pod change and a Secret
 * change are ordered against each other, not by timing. That two pods of
 * adjacent generations reach each other is logic/src/link/secret-rotation.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type V1Secret, Watch } from "@kubernetes/client-node";
import {
  type ControlPlane,
  needsReal,
  startControlPlane,
  trackFailures,
} from "../../testenv/harness/index.ts";
import { KubeApi, resourcePath } from "./kube-api.ts";
import { clusterHelpers, type Obj } from "./testing/cluster-helpers.ts";
import { eventually, type OperatorProcess, spawnOperator } from "./testing/operator-process.ts";
import { PodTimeline } from "./testing/pod-timeline.ts";

const NS = "rotate";
const SECRET = "demo-internal-token";
const demo = [
  "apiVersion: chatcluster.io/v1alpha1",
  "kind: ChatCluster",
  "metadata: {name: demo}",
  "spec:",
  "  gateway: {replicas: 2, rollout: {minIntervalSeconds: 0}}",
  "  logic: {replicas: 2}",
  "  store: {nats: {url: 'nats://nats:4222'}}",
  "  auth: {jwt: {secretKeyRef: {name: chat-auth}}}",
  "",
].join("\n");

/** One change of the internal token Secret, as the watch delivered it. */
interface SecretChange {
  rv: number;
  token: string | undefined;
  previous: string | undefined;
  generation: string | undefined;
}

const decode = (v: string | undefined) => (v === undefined ? undefined : Buffer.from(v, "base64").toString());

describe("internal token and auth Secret rotation on a real control plane", {
  timeout: 900_000,
  skip: needsReal("a control plane (make testenv)"),
}, () => {
  const failed = trackFailures();
  let cp: ControlPlane;
  let dir: string;
  let api: KubeApi;
  let op: OperatorProcess;
  const timeline = new PodTimeline();
  const secretChanges: SecretChange[] = [];
  let secretWatch: AbortController | undefined;
  const { kubectl, get, applyYaml, installCrd, applySecret } = clusterHelpers(
    () => (args) => cp.kubectl(args),
    NS,
    () => dir,
  );

  /**
   * The ChatCluster once its rollout is complete, the token status passes check,
   * and the pod watch has caught up (two Ready pods per tier, none terminating),
   * so no event of this rollout arrives after the next test starts counting.
   */
  const settled = (what: string, check: (cc: Obj) => boolean) =>
    eventually(
      what,
      async () => {
        timeline.check();
        const cc = await get("chatcluster", "demo");
        const progressing = cc.status?.conditions?.find((c: { type: string }) => c.type === "Progressing");
        const live = timeline.live();
        const quiet =
          live.length === 4 &&
          live.every((p) => p.ready && !p.terminating) &&
          timeline.live("gateway").length === 2;
        return cc.status?.observedGeneration === cc.metadata.generation &&
          progressing?.reason === "RolloutComplete" &&
          quiet &&
          check(cc)
          ? cc
          : undefined;
      },
      300_000,
    );
  const secretNow = () => secretChanges.at(-1);

  /**
   * The rotation from `from` (timeline and Secret change indexes) to generation
   * `generation` kept both tiers able to talk: logic rolled before any gateway,
   * gateways one at a time from the highest ordinal, and `previous` stayed
   * until no pod of an older generation was left running.
   */
  const assertSafeRotation = (from: { pods: number; secret: number }, generation: number, old: string) => {
    const drained = timeline.drainOrder(from.pods);
    assert.deepEqual(drained, ["demo-gateway-1", "demo-gateway-0"]);
    assert.equal(timeline.maxTerminatingGateways(from.pods), 1, "never two gateway pods terminating at once");
    const events = timeline.events.slice(from.pods);
    const firstGateway = events.find((e) => e.pod.component === "gateway" && e.pod.terminating);
    assert.ok(firstGateway, "a gateway pod was replaced");
    const logic = firstGateway.live.filter((p) => p.component === "logic" && !p.terminating);
    assert.equal(logic.length, 2);
    assert.ok(
      logic.every((p) => p.ready && p.tokenGeneration === generation),
      "logic rolled out on the new token before the first gateway went",
    );
    const changes = secretChanges.slice(from.secret);
    const rotated = changes.find((c) => c.previous === old);
    assert.ok(rotated, "the Secret kept the old token as previous");
    const dropped = changes.find((c) => c.rv > rotated.rv && c.previous === undefined);
    assert.ok(dropped, "the previous token was dropped");
    // Every pod change committed before the drop: none running of an older generation by then.
    const before = events.filter((e) => e.pod.rv < dropped.rv).at(-1);
    assert.ok(before);
    const stale = before.live.filter((p) => !p.terminating && p.tokenGeneration !== generation);
    assert.deepEqual(
      stale.map((p) => p.name),
      [],
      "no pod of the old generation running when the previous token went",
    );
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "chatcluster-rotation-test-"));
    // This stage set deletes a terminating pod once, by uid: kwok's own can delete a same-name
    // replacement the StatefulSet controller has just created (harness/kwok-stages.ts).
    cp = await startControlPlane({ kwok: true, name: "operator-rotation", holdPodsWithFinalizers: true });
    api = new KubeApi(cp.kubeConfig);
    await installCrd();
    await kubectl("create", "namespace", NS);
    await applySecret("chat-auth", { secret: "0123456789abcdef0123456789abcdef" });
    await timeline.start(cp.kubeConfig, NS);
    secretWatch = await new Watch(cp.kubeConfig).watch(
      `/api/v1/namespaces/${NS}/secrets`,
      { fieldSelector: `metadata.name=${SECRET}` },
      (type: string, obj: V1Secret) => {
        const deleted = type === "DELETED";
        secretChanges.push({
          rv: Number(obj.metadata?.resourceVersion),
          token: deleted ? undefined : decode(obj.data?.token),
          previous: deleted ? undefined : decode(obj.data?.previous),
          generation: obj.metadata?.annotations?.["chatcluster.io/token-generation"],
        });
      },
      () => {},
    );
    op = await spawnOperator(cp.kubeconfigPath, "op-rotation", cp.logsDir, ["--leader-elect=false"]);
    await applyYaml("demo.yaml", demo);
    await settled("demo rolled out", (cc) => cc.status?.internalToken?.phase === "Current");
  });

  after(async () => {
    timeline.stop();
    secretWatch?.abort();
    await op?.stop();
    if (failed()) console.error(`--- operator log tail\n${op?.logTail(80)}`);
    api?.close();
    await cp?.stop({ failed: failed() });
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("starts without a generation: the pod templates are those of a ChatCluster never rotated", async () => {
    const cc = await get("chatcluster", "demo");
    assert.deepEqual(cc.status.internalToken, { generation: 0, phase: "Current" });
    for (const [kind, name] of [
      ["statefulset", "demo-gateway"],
      ["deployment", "demo-logic"],
    ] as const) {
      const w = await get(kind, name);
      const env = w.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name);
      assert.ok(env.includes("CHATCLUSTER_INTERNAL_SECRET"));
      assert.ok(!env.includes("CHATCLUSTER_INTERNAL_SECRET_PREVIOUS"));
      assert.equal(
        w.spec.template.metadata.annotations["chatcluster.io/internal-token-generation"],
        undefined,
      );
    }
  });

  it("a requested rotation rolls logic, then gateways one at a time, and drops the previous token once no old pod runs", async () => {
    const from = { pods: timeline.events.length, secret: secretChanges.length };
    const old = secretNow()?.token;
    assert.ok(old);
    await api.mergePatch(resourcePath("ChatCluster", NS, "demo"), {
      metadata: { annotations: { "chatcluster.io/rotate-internal-token": "2026-12-03" } },
    });
    const cc = await settled(
      "rotation to generation 1 finished",
      (c) => c.status?.internalToken?.phase === "Current" && c.status.internalToken.generation === 1,
    );
    assert.deepEqual(cc.status.internalToken, {
      generation: 1,
      phase: "Current",
      lastRotationRequest: "2026-12-03",
    });
    const now = secretNow();
    assert.ok(now?.token !== undefined && now.token !== old, "a new token");
    assert.equal(now.generation, "1");
    assert.equal(now.previous, undefined);
    assertSafeRotation(from, 1, old);
    for (const [kind, name] of [
      ["statefulset", "demo-gateway"],
      ["deployment", "demo-logic"],
    ] as const) {
      const template = (await get(kind, name)).spec.template;
      assert.equal(template.metadata.annotations["chatcluster.io/internal-token-generation"], "1");
      const previous = template.spec.containers[0].env.find(
        (e: { name: string }) => e.name === "CHATCLUSTER_INTERNAL_SECRET_PREVIOUS",
      );
      assert.deepEqual(previous.valueFrom.secretKeyRef, { name: SECRET, key: "previous", optional: true });
    }
    const events = await kubectl("get", "events", "-n", NS, "--field-selector", "involvedObject.name=demo");
    assert.match(events, /RotatingInternalToken/);
    assert.match(events, /InternalTokenRotated/);
  });

  it("a deleted token Secret becomes a rotation from the token the pods hold, not a token they do not know", async () => {
    const from = { pods: timeline.events.length, secret: secretChanges.length };
    const old = secretNow()?.token;
    assert.ok(old);
    await kubectl("delete", "secret", SECRET, "-n", NS);
    const cc = await settled(
      "rotation to generation 2 finished",
      (c) => c.status?.internalToken?.phase === "Current" && c.status.internalToken.generation === 2,
    );
    assert.equal(cc.status.internalToken.lastRotationRequest, "2026-12-03");
    const now = secretNow();
    assert.ok(now?.token !== undefined && now.token !== old);
    assert.equal(now.generation, "2");
    assertSafeRotation(from, 2, old);
  });

  it("a new value in the auth Secret rolls logic alone", async () => {
    const gatewayUids = () =>
      timeline
        .live("gateway")
        .map((p) => p.uid)
        .sort();
    const uids = gatewayUids();
    const sts = await get("statefulset", "demo-gateway");
    const logicBefore = new Set(timeline.live("logic").map((p) => p.uid));
    await applySecret("chat-auth", { secret: "fedcba9876543210fedcba9876543210" });
    await eventually(
      "logic rolled onto the new auth value",
      async () => {
        const dep = await get("deployment", "demo-logic");
        const s = dep.status ?? {};
        const live = timeline.live("logic").filter((p) => !p.terminating);
        return dep.spec.template.metadata.annotations["chatcluster.io/auth-revision"] === "1" &&
          s.observedGeneration === dep.metadata.generation &&
          s.updatedReplicas === 2 &&
          s.readyReplicas === 2 &&
          live.length === 2 &&
          live.every((p) => !logicBefore.has(p.uid))
          ? true
          : undefined;
      },
      120_000,
    );
    await settled("rolled out", () => true);
    const after = await get("statefulset", "demo-gateway");
    assert.equal(after.metadata.generation, sts.metadata.generation, "gateway StatefulSet unchanged");
    assert.deepEqual(gatewayUids(), uids, "every gateway pod kept its UID");
    const events = await kubectl("get", "events", "-n", NS, "--field-selector", "involvedObject.name=demo");
    assert.match(events, /AuthSecretsChanged/);
  });
  it("a token Secret deleted while no operator ran is reported lost, not replaced; recreated by hand with the old token, it is adopted and nothing rolls", async () => {
    const old = secretNow()?.token;
    assert.ok(old);
    const uids = timeline
      .live()
      .map((p) => p.uid)
      .sort();
    await op.stop();
    await kubectl("delete", "secret", SECRET, "-n", NS);
    op = await spawnOperator(cp.kubeconfigPath, "op-rotation-2", cp.logsDir, ["--leader-elect=false"]);
    const lost = await eventually("Degraded InternalTokenLost", async () => {
      const cc = await get("chatcluster", "demo");
      const degraded = cc.status?.conditions?.find((c: { type: string }) => c.type === "Degraded");
      return degraded?.reason === "InternalTokenLost" ? cc : undefined;
    });
    assert.equal(lost.status.internalToken.phase, "Lost");
    assert.match(lost.status.internalToken.message, /Recreate it with the old token/);
    assert.equal(secretNow()?.token, undefined, "no token the pods do not know");

    await kubectl("create", "secret", "generic", SECRET, "-n", NS, `--from-literal=token=${old}`);
    const cc = await settled(
      "the recreated Secret adopted",
      (c) =>
        c.status?.internalToken?.phase === "Current" &&
        c.status.conditions?.some(
          (x: { type: string; status: string }) => x.type === "Degraded" && x.status === "False",
        ),
    );
    assert.equal(cc.status.internalToken.generation, 2);
    assert.equal(secretNow()?.generation, "2");
    assert.equal(secretNow()?.token, old);
    assert.deepEqual(
      timeline
        .live()
        .map((p) => p.uid)
        .sort(),
      uids,
      "no pod replaced",
    );
  });
});
