import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import { resolveSpec } from "./api/defaults.ts";
import type { GatewayPlan, GatewayState } from "./rollout/gateway-plan.ts";
import { computeStatus, type Observed, statusEqual } from "./status.ts";
import { chatCluster } from "./testing/fixtures.ts";

function sts(replicas: number, ready: number, updated = ready, generation = 1): V1StatefulSet {
  return {
    metadata: { generation },
    status: { replicas, readyReplicas: ready, updatedReplicas: updated, observedGeneration: generation },
  } as V1StatefulSet;
}
function dep(replicas: number, ready: number, updated = ready, generation = 1): V1Deployment {
  return {
    metadata: { generation },
    status: { replicas, readyReplicas: ready, updatedReplicas: updated, observedGeneration: generation },
  } as V1Deployment;
}
function plan(state: GatewayState, updated = 3, extra: Partial<GatewayPlan> = {}): GatewayPlan {
  return {
    replicas: 3,
    delete: undefined,
    draining: undefined,
    startsDrain: false,
    lastDrainedMs: undefined,
    recheckMs: undefined,
    state,
    updated,
    ...extra,
  };
}
const T0 = new Date("2026-01-01T00:00:00Z");
const T1 = new Date("2026-01-01T00:05:00Z");
const IMAGES = { gateway: "r/cc:1", logic: "r/cc:2" };

function observed(o: Partial<Observed> = {}): Observed {
  return {
    statefulSet: sts(3, 3),
    deployment: dep(2, 2),
    gateway: plan({ phase: "Settled" }),
    logicRolledOut: true,
    images: IMAGES,
    problems: [],
    applyErrors: [],
    ...o,
  };
}
const condition = (s: ReturnType<typeof computeStatus>, type: string) =>
  s.conditions?.find((c) => c.type === type);

describe("computeStatus", () => {
  const cc = chatCluster({ gateway: { replicas: 3 }, logic: { replicas: 2 } });
  const spec = resolveSpec(cc.spec);

  it("is Ready with counts, images and the scale selector when every pod is ready", () => {
    const s = computeStatus(cc, spec, observed(), T0);
    assert.equal(condition(s, "Ready")?.status, "True");
    assert.equal(condition(s, "Ready")?.reason, "AllReplicasReady");
    assert.equal(condition(s, "Progressing")?.status, "False");
    assert.equal(condition(s, "Progressing")?.reason, "RolloutComplete");
    assert.equal(condition(s, "Degraded")?.status, "False");
    assert.deepEqual(s.gateway, {
      replicas: 3,
      readyReplicas: 3,
      updatedReplicas: 3,
      ready: "3/3",
      image: "r/cc:1",
      selector:
        "app.kubernetes.io/name=chatcluster,app.kubernetes.io/instance=demo,app.kubernetes.io/component=gateway",
    });
    assert.deepEqual(s.logic, {
      replicas: 2,
      readyReplicas: 2,
      updatedReplicas: 2,
      ready: "2/2",
      image: "r/cc:2",
    });
    assert.equal(s.observedGeneration, 1);
  });

  it("names the gateway pod being drained in Progressing and records the drain", () => {
    const draining = {
      pod: "demo-gateway-2",
      uid: "u2",
      since: "2026-01-01T00:00:00Z",
      reason: "Replace" as const,
    };
    const s = computeStatus(
      cc,
      spec,
      observed({
        statefulSet: sts(3, 2),
        gateway: plan({ phase: "Draining", pod: "demo-gateway-2", reason: "Replace" }, 1, {
          draining,
          lastDrainedMs: T0.getTime(),
        }),
      }),
      T1,
    );
    const p = condition(s, "Progressing");
    assert.equal(p?.status, "True");
    assert.equal(p?.reason, "DrainingGateway");
    assert.match(p?.message ?? "", /demo-gateway-2 to replace it .*\(1\/3 gateways updated\).* over 30s/);
    assert.deepEqual(s.gateway?.draining, draining);
    assert.equal(s.gateway?.lastDrainedTime, "2026-01-01T00:00:00Z");
    assert.equal(s.gateway?.updatedReplicas, 1);
    assert.equal(condition(s, "Ready")?.reason, "GatewaysNotReady");
  });

  it("reports logic first while it rolls, and says the gateways wait", () => {
    const s = computeStatus(
      cc,
      spec,
      observed({
        deployment: dep(3, 2, 1),
        logicRolledOut: false,
        gateway: plan({ phase: "WaitingForLogic", outdated: 3 }, 0),
      }),
      T0,
    );
    const p = condition(s, "Progressing");
    assert.equal(p?.reason, "RollingOutLogic");
    assert.match(p?.message ?? "", /1\/2 logic pods run the current template.*gateway pods wait/);
  });

  it("reports a pause as Progressing=False RolloutPaused with what is left", () => {
    const s = computeStatus(
      cc,
      spec,
      observed({ gateway: plan({ phase: "Paused", outdated: 2, excess: 1 }) }),
      T0,
    );
    const p = condition(s, "Progressing");
    assert.equal(p?.status, "False");
    assert.equal(p?.reason, "RolloutPaused");
    assert.match(p?.message ?? "", /2 gateway pods run an older template and 1 gateway pods are above/);
  });

  it("puts a missing Secret in Ready and a stuck pod in Progressing, in words", () => {
    const missing = { reason: "SecretNotFound" as const, message: "Secret chat-auth has no key api-keys." };
    const s = computeStatus(cc, spec, observed({ problems: [missing] }), T0);
    assert.equal(condition(s, "Ready")?.status, "False");
    assert.equal(condition(s, "Ready")?.reason, "SecretNotFound");
    assert.match(condition(s, "Ready")?.message ?? "", /chat-auth has no key api-keys/);

    const unschedulable = {
      reason: "Unschedulable" as const,
      message: "Pod demo-logic-x cannot be scheduled: 0/1 nodes are available.",
    };
    const stuck = computeStatus(
      cc,
      spec,
      observed({ deployment: dep(3, 2, 1), logicRolledOut: false, problems: [unschedulable] }),
      T0,
    );
    assert.equal(condition(stuck, "Progressing")?.status, "False");
    assert.equal(condition(stuck, "Progressing")?.reason, "Unschedulable");
    assert.match(condition(stuck, "Progressing")?.message ?? "", /cannot be scheduled/);
  });

  it("reports apply failures as Degraded with the summary", () => {
    const s = computeStatus(
      cc,
      spec,
      observed({ applyErrors: ["The API server refused StatefulSet demo-gateway as invalid: spec: bad."] }),
      T0,
    );
    const d = condition(s, "Degraded");
    assert.equal(d?.status, "True");
    assert.equal(d?.message, "The API server refused StatefulSet demo-gateway as invalid: spec: bad.");
    assert.equal(condition(s, "Ready")?.reason, "ReconcileFailed");
  });

  it("keeps lastTransitionTime while a condition's status holds, so an unchanged status is equal", () => {
    const first = computeStatus(cc, spec, observed(), T0);
    const again = computeStatus({ ...cc, status: first }, spec, observed(), T1);
    assert.ok(statusEqual(first, again));
    const notReady = computeStatus({ ...cc, status: first }, spec, observed({ statefulSet: sts(3, 1) }), T1);
    assert.equal(condition(notReady, "Ready")?.lastTransitionTime, "2026-01-01T00:05:00Z");
    assert.ok(!statusEqual(first, notReady));
  });

  it("says the operator changes nothing while spec.paused, whatever is rolling", () => {
    const s = computeStatus(
      cc,
      spec,
      observed({
        gateway: plan({ phase: "WaitingForLogic", outdated: 3 }),
        logicRolledOut: false,
        reconcilePaused: true,
      }),
      T0,
    );
    const p = condition(s, "Progressing");
    assert.equal(p?.status, "False");
    assert.equal(p?.reason, "ReconcilePaused");
    assert.match(p?.message ?? "", /^spec\.paused is true: the operator changes nothing of this ChatCluster/);
    assert.equal(condition(s, "Ready")?.status, "True", "Ready still reports the pods as they are");
  });

  it("reports a ServiceMonitor or HTTPRoute whose API is missing in its own condition, leaving Ready alone", () => {
    const asked = chatCluster({
      gateway: { replicas: 3, httpRoute: { parentRefs: [{ name: "public" }] } },
      logic: { replicas: 2 },
      metrics: { serviceMonitor: { enabled: true } },
    });
    const askedSpec = resolveSpec(asked.spec);
    const missing = computeStatus(asked, askedSpec, observed(), T0);
    assert.equal(condition(missing, "Ready")?.status, "True");
    const mon = condition(missing, "MonitoringReady");
    assert.equal(mon?.status, "False");
    assert.equal(mon?.reason, "ServiceMonitorAPIMissing");
    assert.match(mon?.message ?? "", /install the Prometheus Operator's CRDs/);
    assert.equal(condition(missing, "HTTPRouteReady")?.reason, "HTTPRouteAPIMissing");
    const served = computeStatus(
      asked,
      askedSpec,
      observed({ optionalApis: { ServiceMonitor: true, HTTPRoute: true } }),
      T1,
    );
    assert.equal(condition(served, "MonitoringReady")?.status, "True");
    assert.equal(condition(served, "HTTPRouteReady")?.reason, "HTTPRouteCreated");
    // Not asked for: no such condition at all.
    const plain = computeStatus(cc, spec, observed(), T0);
    assert.deepEqual(
      plain.conditions?.map((c) => c.type),
      ["Ready", "Progressing", "Degraded"],
    );
  });
  it("says a rollout rotates the internal token, and a lost token degrades with what to do", () => {
    const rotating = computeStatus(
      cc,
      spec,
      observed({
        gateway: plan({ phase: "WaitingForLogic", outdated: 3 }, 0),
        logicRolledOut: false,
        internalToken: { generation: 2, phase: "Rotating", lastRotationRequest: "r2" },
      }),
      T0,
    );
    assert.match(
      condition(rotating, "Progressing")?.message ?? "",
      /^rotating the internal token to generation 2/,
    );
    assert.deepEqual(rotating.internalToken, { generation: 2, phase: "Rotating", lastRotationRequest: "r2" });
    assert.equal(condition(rotating, "Degraded")?.status, "False");

    const lost = computeStatus(
      cc,
      spec,
      observed({ internalToken: { generation: 1, phase: "Lost", message: "recreate it" } }),
      T0,
    );
    assert.equal(condition(lost, "Degraded")?.status, "True");
    assert.equal(condition(lost, "Degraded")?.reason, "InternalTokenLost");
    assert.equal(condition(lost, "Degraded")?.message, "recreate it");
  });
});
