/**
 * The lifecycle promise at the Kubernetes layer, on a real control plane with
 * kwok pods: logic changes never touch gateway pods, an operator upgrade rolls
 * nothing, gateway pods are replaced and removed one drained pod at a time
 * from the highest ordinal, `paused` holds, and logic rolls before gateways.
 *
 * Gateway pods are held in Terminating by a test finalizer (GatewayHold) until
 * the operator has run reconciles that saw them terminating, so "never two at
 * once" is tested against an operator that had every chance to break it.
 * Order is read from one pod watch stream (PodTimeline), not from timing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import {
  type ControlPlane,
  needsReal,
  startControlPlane,
  trackFailures,
} from "../../testenv/harness/index.ts";
import { KubeApi, resourcePath } from "./kube-api.ts";
import { clusterHelpers } from "./testing/cluster-helpers.ts";
import { GatewayHold } from "./testing/gateway-hold.ts";
import {
  type OperatorProcess,
  eventually as poll,
  spawnOperator,
  WaitAborted,
} from "./testing/operator-process.ts";
import { PodTimeline } from "./testing/pod-timeline.ts";

const NS = "roll";
const REPO = "ghcr.io/chatcluster/chatcluster";
const V1 = `${REPO}:0.1.0`;

const demo = [
  "apiVersion: chatcluster.io/v1alpha1",
  "kind: ChatCluster",
  "metadata: {name: demo}",
  "spec:",
  "  gateway: {replicas: 4, rollout: {minIntervalSeconds: 0}}",
  "  logic: {replicas: 2}",
  "  store: {nats: {url: 'nats://nats:4222'}}",
  "  auth: {jwt: {secretKeyRef: {name: chat-auth}}, apiKeys: {secretKeyRef: {name: chat-auth}}}",
  "",
].join("\n");

describe("gateway rollouts on a real control plane", {
  timeout: 900_000,
  skip: needsReal("a control plane (make testenv)"),
}, () => {
  const failed = trackFailures();
  let cp: ControlPlane;
  let dir: string;
  let api: KubeApi;
  let op: OperatorProcess;
  const timeline = new PodTimeline();
  let hold: GatewayHold;
  let pokes = 0;
  const { kubectl, get, applyYaml, installCrd, applySecret } = clusterHelpers(
    () => (args) => cp.kubectl(args),
    NS,
    () => dir,
  );

  /** A rule that, once broken, makes waiting pointless; checked before every poll. */
  let guard: (() => string | undefined) | undefined;
  /**
   * Holds for the whole run: any wait stops at once when two gateway pods were ever
   * terminating together, the hold or the pod watch failed, or the test's guard trips.
   */
  const eventually = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs?: number) =>
    poll(
      what,
      async () => {
        const worst = timeline.maxTerminatingGateways();
        if (worst > 1)
          throw new WaitAborted(`${worst} gateway pods were terminating at once (waiting for ${what})`);
        try {
          timeline.check();
          hold.check();
        } catch (err) {
          throw new WaitAborted(`${String(err)} (waiting for ${what})`);
        }
        const broken = guard?.();
        if (broken !== undefined) throw new WaitAborted(`${broken} (waiting for ${what})`);
        return check();
      },
      timeoutMs,
    );
  const reconciles = async (): Promise<number> => {
    let n = 0;
    for (const r of ["success", "requeue", "error"])
      n += (await op.metric(`chatcluster_operator_reconcile_total{result="${r}"}`)) ?? 0;
    return n;
  };
  /** Two whole reconciles after now: the second one began after this call (one key runs at a time). */
  const hadChance = async (): Promise<void> => {
    const start = await reconciles();
    await eventually(
      "two reconciles",
      async () => {
        pokes++;
        await api.mergePatch(resourcePath("ChatCluster", NS, "demo"), {
          metadata: { annotations: { "test.chatcluster.io/poke": String(pokes) } },
        });
        return (await reconciles()) >= start + 2 ? true : undefined;
      },
      60_000,
    );
  };
  const patch = (spec: unknown) => api.mergePatch(resourcePath("ChatCluster", NS, "demo"), { spec });
  const status = async () => {
    const cc = await get("chatcluster", "demo");
    const cond = (t: string) => cc.status?.conditions?.find((c: { type: string }) => c.type === t);
    return { cc, progressing: cond("Progressing"), ready: cond("Ready") };
  };
  /** Waits until the operator has processed the latest spec and reports this Progressing reason. */
  const progressReason = (reason: string, timeoutMs = 120_000) =>
    eventually(
      `Progressing reason ${reason}`,
      async () => {
        const s = await status();
        const current = s.cc.status?.observedGeneration === s.cc.metadata.generation;
        return current && s.progressing?.reason === reason ? s : undefined;
      },
      timeoutMs,
    );
  const gatewayUids = () =>
    timeline
      .live("gateway")
      .map((p) => `${p.name}=${p.uid}`)
      .sort();
  const settle = async () => {
    await progressReason("RolloutComplete", 240_000);
    await eventually("every gateway pod held by the test", async () => (hold.allHeld() ? true : undefined));
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "chatcluster-rollout-test-"));
    cp = await startControlPlane({ kwok: true, name: "operator-rollout", holdPodsWithFinalizers: true });
    api = new KubeApi(cp.kubeConfig);
    await installCrd();
    await kubectl("create", "namespace", NS);
    await applySecret("chat-auth", {
      secret: "0123456789abcdef0123456789abcdef",
      "api-keys": "k1",
      "api-keys-2": "k2",
    });
    await timeline.start(cp.kubeConfig, NS);
    hold = new GatewayHold({ api, namespace: NS, timeline, hadChance });
    op = await spawnOperator(cp.kubeconfigPath, "op-1", cp.logsDir, [
      "--leader-elect=false",
      `--workload-image=${V1}`,
    ]);
    await applyYaml("demo.yaml", demo);
    await settle();
  });

  afterEach(() => {
    guard = undefined;
  });

  after(async () => {
    timeline.stop();
    await hold?.stop();
    await op?.stop();
    if (failed()) console.error(`--- operator log tail\n${op?.logTail(80)}`);
    api?.close();
    await cp?.stop({ failed: failed() });
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("runs the gateways with OnDelete and records the resolved images", async () => {
    const sts = await get("statefulset", "demo-gateway");
    assert.deepEqual(sts.spec.updateStrategy, { type: "OnDelete" });
    const { cc } = await status();
    assert.equal(cc.status.gateway.image, V1);
    assert.equal(cc.status.logic.image, V1);
    assert.equal(timeline.live("gateway").length, 4);
  });

  it("a logic-only change keeps every gateway pod and the gateway pod template byte for byte", async () => {
    const uids = gatewayUids();
    const sts = await get("statefulset", "demo-gateway");
    const template = JSON.stringify(sts.spec.template);
    await patch({
      logic: { image: { tag: "0.1.1" }, replicas: 3, resources: { requests: { cpu: "100m" } } },
      auth: { apiKeys: { secretKeyRef: { name: "chat-auth", key: "api-keys-2" } } },
    });
    await eventually(
      "logic rolled out on 0.1.1",
      async () => {
        const dep = await get("deployment", "demo-logic");
        const s = dep.status ?? {};
        return dep.spec.template.spec.containers[0].image === `${REPO}:0.1.1` &&
          s.observedGeneration === dep.metadata.generation &&
          s.updatedReplicas === 3 &&
          s.replicas === 3 &&
          s.readyReplicas === 3
          ? true
          : undefined;
      },
      120_000,
    );
    await settle();
    await hadChance();
    const after = await get("statefulset", "demo-gateway");
    assert.equal(JSON.stringify(after.spec.template), template, "gateway pod template unchanged");
    assert.equal(after.metadata.generation, sts.metadata.generation, "StatefulSet spec unchanged");
    assert.deepEqual(gatewayUids(), uids, "every gateway pod kept its UID");
    assert.equal((await status()).cc.status.logic.image, `${REPO}:0.1.1`);
  });

  it("paused holds a gateway rollout where it is; unpaused, it replaces one drained pod at a time from the highest ordinal", async () => {
    const logicUids = timeline
      .live("logic")
      .map((p) => p.uid)
      .sort();
    const dep = await get("deployment", "demo-logic");
    const from = timeline.events.length;

    // Paused before the change: nothing is deleted.
    guard = () => {
      const drained = timeline.drainOrder(from);
      return drained.length > 0 ? `gateway pods deleted while paused: ${drained.join(", ")}` : undefined;
    };
    await patch({ gateway: { image: { tag: "0.2.0" }, rollout: { paused: true } } });
    const paused = await progressReason("RolloutPaused");
    assert.equal(paused.progressing.status, "False");
    assert.match(paused.progressing.message, /4 gateway pods run an older template/);
    await hadChance();
    assert.deepEqual(timeline.drainOrder(from), [], "no gateway pod deleted while paused");

    // Paused again while the first pod drains: the roll stops after that pod.
    guard = () => {
      const drained = timeline.drainOrder(from);
      return drained.length > 1 ? `gateway pods deleted after the pause: ${drained.join(", ")}` : undefined;
    };
    hold.beforeNextRelease(async (pod) => {
      assert.equal(pod.name, "demo-gateway-3");
      const draining = await status();
      assert.equal(draining.progressing.reason, "DrainingGateway");
      assert.match(draining.progressing.message, /demo-gateway-3/);
      assert.equal(draining.cc.status.gateway.draining.pod, "demo-gateway-3");
      await patch({ gateway: { rollout: { paused: true } } });
    });
    await patch({ gateway: { rollout: { paused: false } } });
    await eventually(
      "paused after demo-gateway-3 with its replacement updated",
      async () => {
        const s = await progressReason("RolloutPaused");
        return /3 gateway pods run an older template/.test(s.progressing.message) &&
          s.cc.status.gateway.updatedReplicas === 1
          ? true
          : undefined;
      },
      120_000,
    );
    await hadChance();
    assert.deepEqual(timeline.drainOrder(from), ["demo-gateway-3"]);

    guard = undefined;
    await patch({ gateway: { rollout: { paused: false } } });
    await settle();
    const order = timeline.drainOrder(from);
    assert.deepEqual(order, ["demo-gateway-3", "demo-gateway-2", "demo-gateway-1", "demo-gateway-0"]);
    assert.equal(timeline.maxTerminatingGateways(from), 1, "never two gateway pods terminating at once");
    // Each next pod starts draining only once the previous one's replacement is Ready on the new image.
    for (const e of timeline.events.slice(from)) {
      if (e.pod.component !== "gateway" || !e.pod.terminating || e.pod.name === "demo-gateway-3") continue;
      const ordinal = Number(e.pod.name.slice(-1));
      const prev = e.live.find((p) => p.name === `demo-gateway-${ordinal + 1}`);
      assert.ok(
        prev?.ready && prev.image === `${REPO}:0.2.0`,
        `${e.pod.name} drained after its predecessor's replacement was Ready`,
      );
    }
    const s = await status();
    assert.equal(s.cc.status.gateway.image, `${REPO}:0.2.0`);
    assert.equal(s.cc.status.gateway.updatedReplicas, 4);
    // A gateway-only change leaves logic alone.
    assert.deepEqual(
      timeline
        .live("logic")
        .map((p) => p.uid)
        .sort(),
      logicUids,
    );
    assert.equal((await get("deployment", "demo-logic")).metadata.generation, dep.metadata.generation);
    const events = await kubectl("get", "events", "-n", NS, "--field-selector", "involvedObject.name=demo");
    assert.match(events, /DrainingGateway.*demo-gateway-0/);
  });

  it("a combined change rolls logic first; while logic cannot schedule, status says so and gateways wait", async () => {
    const from = timeline.events.length;
    await patch({
      logic: { image: { tag: "0.3.0" }, resources: { requests: { cpu: "100000" } } },
      gateway: { image: { tag: "0.3.0" } },
    });
    const stuck = await progressReason("Unschedulable");
    assert.equal(stuck.progressing.status, "False");
    assert.match(
      stuck.progressing.message,
      /^Pod demo-logic-\S+ cannot be scheduled: 0\/1 nodes are available: .*Insufficient cpu/,
    );
    await hadChance();
    assert.deepEqual(timeline.drainOrder(from), [], "no gateway pod deleted while logic is not rolled out");

    await patch({ logic: { resources: { requests: { cpu: "100m" } } } });
    await settle();
    assert.deepEqual(timeline.drainOrder(from), [
      "demo-gateway-3",
      "demo-gateway-2",
      "demo-gateway-1",
      "demo-gateway-0",
    ]);
    assert.equal(timeline.maxTerminatingGateways(from), 1);
    // At the first gateway deletion, logic had fully rolled out: only pods of the final template, all Ready.
    const first = timeline.events.slice(from).find((e) => e.pod.component === "gateway" && e.pod.terminating);
    assert.ok(first);
    const logic = first.live.filter((p) => p.component === "logic");
    const hashes = new Set(logic.map((p) => p.templateHash));
    const final = timeline.live("logic")[0]?.templateHash;
    assert.deepEqual([...hashes], [final], "no logic pod of an older template left");
    assert.equal(logic.length, 3);
    assert.ok(logic.every((p) => p.ready && !p.terminating && p.image === `${REPO}:0.3.0`));
  });

  it("a scale from 4 to 1 passes through StatefulSet replicas 3 and 2, one drained pod at a time; scale-up is immediate", async () => {
    const from = timeline.events.length;
    const replicas: { rv: number; replicas: number }[] = [];
    const stopWatch = await watchReplicas(cp, replicas);
    try {
      await kubectl("scale", "chatcluster/demo", "-n", NS, "--replicas=1");
      await eventually(
        "one gateway pod left",
        async () => (timeline.live("gateway").length === 1 ? true : undefined),
        240_000,
      );
      await settle();
      const steps = replicas.map((r) => r.replicas).filter((r, i, all) => i === 0 || all[i - 1] !== r);
      assert.deepEqual(steps, [4, 3, 2, 1]);
      assert.deepEqual(timeline.drainOrder(from), ["demo-gateway-3", "demo-gateway-2", "demo-gateway-1"]);
      assert.equal(timeline.maxTerminatingGateways(from), 1);
      // Each lowering comes after the previous pod is gone (resourceVersions are etcd revisions here).
      for (const target of [2, 1]) {
        const lowered = replicas.find((r) => r.replicas === target);
        const gone = timeline.events
          .slice(from)
          .find((e) => e.type === "DELETED" && e.pod.name === `demo-gateway-${target + 1}`);
        assert.ok(
          lowered && gone && gone.pod.rv < lowered.rv,
          `replicas ${target} set after demo-gateway-${target + 1} was gone`,
        );
      }
      const mark = replicas.length;
      await kubectl("scale", "chatcluster/demo", "-n", NS, "--replicas=3");
      await settle();
      assert.deepEqual(
        replicas
          .slice(mark)
          .map((r) => r.replicas)
          .filter((r, i, all) => i === 0 || all[i - 1] !== r),
        [3],
        "scale-up sets the target at once",
      );
    } finally {
      stopWatch();
    }
  });

  it("a restart of the operator with another default workload image changes no pod template", async () => {
    await patch({ image: null, logic: { image: null }, gateway: { image: null } });
    await settle();
    const before = {
      sts: await get("statefulset", "demo-gateway"),
      dep: await get("deployment", "demo-logic"),
      uids: gatewayUids(),
    };
    assert.equal(
      before.sts.spec.template.spec.containers[0].image,
      `${REPO}:0.3.0`,
      "unset fields keep the recorded image",
    );
    await op.stop();
    op = await spawnOperator(cp.kubeconfigPath, "op-2", cp.logsDir, [
      "--leader-elect=false",
      `--workload-image=${REPO}:9.9.9`,
    ]);
    await hadChance();
    // Status written by an older operator has no images: they are read back from the workloads.
    await kubectl(
      "patch",
      "chatcluster",
      "demo",
      "-n",
      NS,
      "--subresource=status",
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/status/gateway/image"},{"op":"remove","path":"/status/logic/image"}]',
    );
    await hadChance();
    const sts = await get("statefulset", "demo-gateway");
    const dep = await get("deployment", "demo-logic");
    assert.equal(JSON.stringify(sts.spec.template), JSON.stringify(before.sts.spec.template));
    assert.equal(JSON.stringify(dep.spec.template), JSON.stringify(before.dep.spec.template));
    assert.equal(sts.metadata.generation, before.sts.metadata.generation);
    assert.equal(dep.metadata.generation, before.dep.metadata.generation);
    assert.deepEqual(gatewayUids(), before.uids);
    assert.equal((await status()).cc.status.gateway.image, `${REPO}:0.3.0`);

    // FollowOperator takes the operator's default: logic first, then gateways one at a time.
    const from = timeline.events.length;
    await patch({ upgradePolicy: "FollowOperator" });
    await settle();
    const s = await status();
    assert.equal(s.cc.status.gateway.image, `${REPO}:9.9.9`);
    assert.equal(s.cc.status.logic.image, `${REPO}:9.9.9`);
    assert.deepEqual(timeline.drainOrder(from), ["demo-gateway-2", "demo-gateway-1", "demo-gateway-0"]);
    assert.equal(timeline.maxTerminatingGateways(from), 1);
    timeline.check();
    hold.check();
  });

  it("a logic-only knob keeps every gateway pod; a gateway-only knob replaces them one drained pod at a time and leaves logic", async () => {
    const logicUids = () =>
      timeline
        .live("logic")
        .map((p) => p.uid)
        .sort();
    const gwUids = gatewayUids();
    const gwTemplate = JSON.stringify((await get("statefulset", "demo-gateway")).spec.template);
    const depBefore = await get("deployment", "demo-logic");
    await patch({
      logic: {
        podLabels: { "example.com/team": "backend" },
        env: [{ name: "CHATCLUSTER_MAX_BODY_BYTES", value: "32768" }],
        podTemplate: { metadata: { annotations: { "example.com/profile": "on" } } },
      },
    });
    await eventually(
      "logic rolled out with its knobs",
      async () => {
        const dep = await get("deployment", "demo-logic");
        const st = dep.status ?? {};
        return (dep.metadata.generation ?? 0) > (depBefore.metadata.generation ?? 0) &&
          dep.spec.template.metadata.labels["example.com/team"] === "backend" &&
          st.observedGeneration === dep.metadata.generation &&
          st.updatedReplicas === dep.spec.replicas &&
          st.replicas === dep.spec.replicas &&
          st.readyReplicas === dep.spec.replicas
          ? true
          : undefined;
      },
      120_000,
    );
    await settle();
    await hadChance();
    assert.equal(JSON.stringify((await get("statefulset", "demo-gateway")).spec.template), gwTemplate);
    assert.deepEqual(gatewayUids(), gwUids, "every gateway pod kept its UID");

    const logic = logicUids();
    const dep = await get("deployment", "demo-logic");
    const from = timeline.events.length;
    await patch({
      gateway: {
        podAnnotations: { "example.com/scrape": "true" },
        env: [{ name: "CHATCLUSTER_LOG_LEVEL", value: "debug" }],
        podTemplate: { spec: { containers: [{ name: "shipper", image: "fluent/fluent-bit:3.0" }] } },
      },
    });
    await settle();
    assert.deepEqual(timeline.drainOrder(from), ["demo-gateway-2", "demo-gateway-1", "demo-gateway-0"]);
    assert.equal(timeline.maxTerminatingGateways(from), 1, "never two gateway pods terminating at once");
    assert.deepEqual(logicUids(), logic, "every logic pod kept its UID");
    assert.equal((await get("deployment", "demo-logic")).metadata.generation, dep.metadata.generation);
    const sts = await get("statefulset", "demo-gateway");
    assert.deepEqual(
      sts.spec.template.spec.containers.map((c: { name: string }) => c.name),
      ["gateway", "shipper"],
    );
    timeline.check();
    hold.check();
  });
});

/** Records every spec.replicas of the gateway StatefulSet with its resourceVersion. */
async function watchReplicas(cp: ControlPlane, out: { rv: number; replicas: number }[]): Promise<() => void> {
  const { Watch } = await import("@kubernetes/client-node");
  const abort = await new Watch(cp.kubeConfig).watch(
    `/apis/apps/v1/namespaces/${NS}/statefulsets`,
    { fieldSelector: "metadata.name=demo-gateway" },
    (_type: string, sts: { metadata: { resourceVersion: string }; spec: { replicas: number } }) => {
      out.push({ rv: Number(sts.metadata.resourceVersion), replicas: sts.spec.replicas });
    },
    () => {},
  );
  return () => abort.abort();
}
