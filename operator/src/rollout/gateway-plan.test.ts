import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DrainingPod } from "../api/chatcluster-types.ts";
import { type GatewayPlanInput, planGateways } from "./gateway-plan.ts";
import type { PodView } from "./pod-view.ts";

const NOW = Date.parse("2026-01-01T00:10:00Z");

function pod(ordinal: number, o: Partial<PodView> = {}): PodView {
  return {
    name: `demo-gateway-${ordinal}`,
    uid: `uid-${ordinal}`,
    ordinal,
    terminating: false,
    ready: true,
    readySinceMs: NOW - 600_000,
    revision: "new",
    ...o,
  };
}
function input(o: Partial<GatewayPlanInput> = {}): GatewayPlanInput {
  return {
    statefulSet: "demo-gateway",
    desiredReplicas: 4,
    currentReplicas: 4,
    updateRevision: "new",
    pods: [0, 1, 2, 3].map((i) => pod(i)),
    paused: false,
    minIntervalMs: 10_000,
    logicRolledOut: true,
    draining: undefined,
    lastDrainedMs: undefined,
    nowMs: NOW,
    ...o,
  };
}
const record = (ordinal: number, reason: DrainingPod["reason"]): DrainingPod => ({
  pod: `demo-gateway-${ordinal}`,
  uid: `uid-${ordinal}`,
  since: "2026-01-01T00:09:00Z",
  reason,
});
const outdated = (...ordinals: number[]) =>
  [0, 1, 2, 3].map((i) => pod(i, ordinals.includes(i) ? { revision: "old" } : {}));

describe("planGateways", () => {
  it("does nothing when every pod is current and Ready", () => {
    const p = planGateways(input());
    assert.deepEqual(p.state, { phase: "Settled" });
    assert.equal(p.replicas, 4);
    assert.equal(p.delete, undefined);
    assert.equal(p.updated, 4);
  });

  it("scales up at once", () => {
    const p = planGateways(input({ desiredReplicas: 6 }));
    assert.equal(p.replicas, 6);
    assert.deepEqual(p.state, { phase: "ScalingUp", from: 4, to: 6 });
  });

  it("scales down by one pod, the highest ordinal, recording it before acting", () => {
    const p = planGateways(input({ desiredReplicas: 1 }));
    assert.equal(p.replicas, 3);
    assert.equal(p.startsDrain, true);
    assert.equal(p.delete, undefined, "the StatefulSet controller removes it");
    assert.deepEqual(p.draining, { ...record(3, "ScaleDown"), since: "2026-01-01T00:10:00Z" });
  });

  it("holds the next scale-down step until the drained pod is gone, then waits the interval", () => {
    const draining = record(3, "ScaleDown");
    const terminating = [0, 1, 2].map((i) => pod(i)).concat(pod(3, { terminating: true }));
    const held = planGateways(input({ desiredReplicas: 1, currentReplicas: 3, pods: terminating, draining }));
    assert.equal(held.replicas, 3);
    assert.equal(held.startsDrain, false);
    assert.deepEqual(held.state, { phase: "Draining", pod: "demo-gateway-3", reason: "ScaleDown" });

    const gone = [0, 1, 2].map((i) => pod(i));
    const waiting = planGateways(input({ desiredReplicas: 1, currentReplicas: 3, pods: gone, draining }));
    assert.equal(waiting.replicas, 3);
    assert.equal(waiting.draining, undefined);
    assert.equal(waiting.lastDrainedMs, NOW);
    assert.equal(waiting.state.phase, "WaitingInterval");
    assert.equal(waiting.recheckMs, 10_000);

    const next = planGateways(
      input({ desiredReplicas: 1, currentReplicas: 3, pods: gone, lastDrainedMs: NOW - 10_000 }),
    );
    assert.equal(next.replicas, 2);
    assert.equal(next.draining?.pod, "demo-gateway-2");
  });

  it("treats a record whose pod the cache still shows as not gone (a lagging cache cannot start a second drain)", () => {
    const p = planGateways(
      input({ desiredReplicas: 1, currentReplicas: 3, draining: record(3, "ScaleDown") }),
    );
    assert.equal(p.replicas, 3);
    assert.equal(p.startsDrain, false);
    assert.equal(p.state.phase, "Draining");
  });

  it("lets a scale-up cancel a scale-down step whose pod has not started terminating", () => {
    const p = planGateways(
      input({ desiredReplicas: 4, currentReplicas: 3, draining: record(3, "ScaleDown") }),
    );
    assert.equal(p.replicas, 4);
    assert.equal(p.draining, undefined);
    assert.equal(p.lastDrainedMs, undefined);
    // Already terminating: it cannot be called back; the StatefulSet recreates it once it is gone.
    const pods = [0, 1, 2].map((i) => pod(i)).concat(pod(3, { terminating: true }));
    const late = planGateways(
      input({ desiredReplicas: 4, currentReplicas: 3, pods, draining: record(3, "ScaleDown") }),
    );
    assert.equal(late.replicas, 4);
    assert.equal(late.state.phase, "Draining");
  });

  it("replaces outdated pods from the highest ordinal, deleting by uid", () => {
    const p = planGateways(input({ pods: outdated(0, 1, 2, 3) }));
    assert.deepEqual(p.delete, { pod: "demo-gateway-3", uid: "uid-3" });
    assert.equal(p.draining?.reason, "Replace");
    assert.equal(p.replicas, 4);
    assert.equal(p.updated, 0);
  });

  it("re-issues the delete of a recorded pod that is not terminating yet, and never picks another", () => {
    const p = planGateways(input({ pods: outdated(0, 1, 2, 3), draining: record(3, "Replace") }));
    assert.deepEqual(p.delete, { pod: "demo-gateway-3", uid: "uid-3" });
    assert.equal(p.startsDrain, false);
  });

  it("waits for the replacement to exist and be Ready, then for the interval", () => {
    const missing = outdated(0, 1, 2).slice(0, 3);
    assert.deepEqual(planGateways(input({ pods: missing, lastDrainedMs: NOW - 60_000 })).state, {
      phase: "WaitingForPod",
      pod: "demo-gateway-3",
      missing: true,
    });
    const starting = [...missing, pod(3, { ready: false })];
    assert.deepEqual(planGateways(input({ pods: starting })).state, {
      phase: "WaitingForPod",
      pod: "demo-gateway-3",
      missing: false,
    });
    const fresh = [...missing, pod(3, { readySinceMs: NOW - 4_000 })];
    const p = planGateways(input({ pods: fresh }));
    assert.deepEqual(p.state, { phase: "WaitingInterval", remainingMs: 6_000, next: "demo-gateway-2" });
    assert.equal(p.delete, undefined);
    assert.deepEqual(planGateways(input({ pods: fresh, nowMs: NOW + 6_000 })).delete, {
      pod: "demo-gateway-2",
      uid: "uid-2",
    });
  });

  it("replaces an outdated pod that is not Ready first, and stops at an updated pod that is not Ready", () => {
    const pods = outdated(0, 1, 2, 3).map((p) => (p.ordinal === 1 ? { ...p, ready: false } : p));
    assert.equal(planGateways(input({ pods })).delete?.pod, "demo-gateway-1");
    const stuck = outdated(0, 1, 2).map((p) => (p.ordinal === 3 ? { ...p, ready: false } : p));
    const p = planGateways(input({ pods: stuck }));
    assert.equal(p.delete, undefined);
    assert.deepEqual(p.state, { phase: "WaitingForPod", pod: "demo-gateway-3", missing: false });
  });

  it("waits for logic to roll out before replacing a gateway", () => {
    const p = planGateways(input({ pods: outdated(0, 1, 2, 3), logicRolledOut: false }));
    assert.equal(p.delete, undefined);
    assert.deepEqual(p.state, { phase: "WaitingForLogic", outdated: 4 });
  });

  it("holds replacement and scale-down while paused, and still scales up", () => {
    const p = planGateways(input({ pods: outdated(2, 3), paused: true }));
    assert.equal(p.delete, undefined);
    assert.deepEqual(p.state, { phase: "Paused", outdated: 2, excess: 0 });
    const down = planGateways(input({ desiredReplicas: 2, paused: true }));
    assert.equal(down.replicas, 4);
    assert.deepEqual(down.state, { phase: "Paused", outdated: 0, excess: 2 });
    assert.equal(planGateways(input({ desiredReplicas: 5, paused: true })).replicas, 5);
  });

  it("never starts a step while any gateway pod is terminating, whoever deleted it", () => {
    const pods = outdated(0, 1, 2, 3).map((p) => (p.ordinal === 0 ? { ...p, terminating: true } : p));
    const p = planGateways(input({ pods }));
    assert.equal(p.delete, undefined);
    assert.deepEqual(p.state, { phase: "Draining", pod: "demo-gateway-0", reason: "External" });
    assert.equal(planGateways(input({ pods, desiredReplicas: 2 })).replicas, 4);
  });

  it("does not replace pods before the StatefulSet controller has seen the latest template", () => {
    const p = planGateways(input({ pods: outdated(3), updateRevision: undefined }));
    assert.equal(p.delete, undefined);
    assert.deepEqual(p.state, { phase: "WaitingForController" });
  });

  it("replaces outdated pods that never became Ready one after the other instead of waiting for them", () => {
    // A bad template reached gw-2 and gw-3, then the user fixed the image.
    const pods = [0, 1, 2, 3].map((i) => pod(i, i >= 2 ? { revision: "old", ready: false } : {}));
    const p = planGateways(input({ pods }));
    assert.deepEqual(p.state, { phase: "Draining", pod: "demo-gateway-3", reason: "Replace" });
    assert.deepEqual(p.delete, { pod: "demo-gateway-3", uid: "uid-3" });
  });

  it("does not step a scale-down while a replacement of the current template is still starting", () => {
    const pods = [0, 1, 2, 3].map((i) => pod(i, i === 2 ? { ready: false, readySinceMs: undefined } : {}));
    const p = planGateways(input({ desiredReplicas: 3, pods }));
    assert.deepEqual(p.state, { phase: "WaitingForPod", pod: "demo-gateway-2", missing: false });
    assert.equal(p.replicas, 4);
    assert.equal(p.delete, undefined);
  });
});
