import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import { resolveSpec } from "./api/defaults.ts";
import { computeStatus, statusEqual } from "./status.ts";
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
const T0 = new Date("2026-01-01T00:00:00Z");
const T1 = new Date("2026-01-01T00:05:00Z");

describe("computeStatus", () => {
  const cc = chatCluster({ gateway: { replicas: 3 }, logic: { replicas: 2 } });
  const spec = resolveSpec(cc.spec);

  it("is Ready with counts and the scale selector when every pod is ready", () => {
    const s = computeStatus(
      cc,
      spec,
      { statefulSet: sts(3, 3), deployment: dep(2, 2), applyError: undefined },
      T0,
    );
    const ready = s.conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.status, "True");
    assert.equal(ready?.reason, "AllReplicasReady");
    assert.equal(s.conditions?.find((c) => c.type === "Progressing")?.status, "False");
    assert.equal(s.conditions?.find((c) => c.type === "Degraded")?.status, "False");
    assert.deepEqual(s.gateway, {
      replicas: 3,
      readyReplicas: 3,
      updatedReplicas: 3,
      selector:
        "app.kubernetes.io/name=chatcluster,app.kubernetes.io/instance=demo,app.kubernetes.io/component=gateway",
    });
    assert.equal(s.logic?.readyReplicas, 2);
    assert.equal(s.observedGeneration, 1);
  });

  it("reports scaling as Progressing and not Ready", () => {
    const s = computeStatus(
      cc,
      spec,
      { statefulSet: sts(2, 2), deployment: dep(2, 2), applyError: undefined },
      T0,
    );
    assert.equal(s.conditions?.find((c) => c.type === "Ready")?.reason, "GatewaysNotReady");
    const p = s.conditions?.find((c) => c.type === "Progressing");
    assert.equal(p?.status, "True");
    assert.equal(p?.reason, "Scaling");
  });

  it("reports an apply failure as Degraded with the message", () => {
    const s = computeStatus(
      cc,
      spec,
      { statefulSet: undefined, deployment: undefined, applyError: "StatefulSet demo-gateway: 422 invalid" },
      T0,
    );
    const d = s.conditions?.find((c) => c.type === "Degraded");
    assert.equal(d?.status, "True");
    assert.match(d?.message ?? "", /422 invalid/);
  });

  it("keeps lastTransitionTime while a condition's status holds, so an unchanged status is equal", () => {
    const obs = { statefulSet: sts(3, 3), deployment: dep(2, 2), applyError: undefined };
    const first = computeStatus(cc, spec, obs, T0);
    const again = computeStatus({ ...cc, status: first }, spec, obs, T1);
    assert.ok(statusEqual(first, again));
    const notReady = computeStatus({ ...cc, status: first }, spec, { ...obs, statefulSet: sts(3, 1) }, T1);
    const r = notReady.conditions?.find((c) => c.type === "Ready");
    assert.equal(r?.lastTransitionTime, "2026-01-01T00:05:00Z");
    assert.ok(!statusEqual(first, notReady));
  });
});
