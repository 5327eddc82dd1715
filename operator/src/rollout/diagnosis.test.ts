import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import { resolveSpec } from "../api/defaults.ts";
import { diagnose } from "./diagnosis.ts";
import { checkReferences, references } from "./reference-check.ts";

const base = {
  references: [],
  deployment: undefined,
  statefulSetFailedCreate: undefined,
  statefulSetName: "demo-gateway",
  unreadyPods: [],
};

describe("diagnose", () => {
  it("reads the Deployment's ReplicaFailure and ProgressDeadlineExceeded conditions", () => {
    const deployment = {
      metadata: { name: "demo-logic" },
      status: {
        conditions: [
          {
            type: "ReplicaFailure",
            status: "True",
            reason: "FailedCreate",
            message: 'pods "demo-logic-x" is forbidden: exceeded quota: q',
          },
          {
            type: "Progressing",
            status: "False",
            reason: "ProgressDeadlineExceeded",
            message: 'ReplicaSet "demo-logic-x" has timed out progressing.',
          },
        ],
      },
    } as V1Deployment;
    assert.deepEqual(diagnose({ ...base, deployment }), [
      {
        reason: "FailedCreate",
        message:
          'The Deployment demo-logic cannot create logic pods: pods "demo-logic-x" is forbidden: exceeded quota: q.',
      },
      {
        reason: "ProgressDeadlineExceeded",
        message:
          'The Deployment demo-logic made no progress within its deadline: ReplicaSet "demo-logic-x" has timed out progressing.',
      },
    ]);
  });

  it("reports the StatefulSet's FailedCreate, unschedulable pods and stuck containers in words", () => {
    const unschedulable = {
      metadata: { name: "demo-gateway-3" },
      status: {
        conditions: [
          {
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            message: "0/1 nodes are available: 1 Insufficient cpu.",
          },
        ],
      },
    } as V1Pod;
    const pulling = {
      metadata: { name: "demo-logic-y" },
      status: {
        containerStatuses: [
          {
            name: "logic",
            state: { waiting: { reason: "ImagePullBackOff", message: 'Back-off pulling image "r/cc:nope"' } },
          },
        ],
      },
    } as V1Pod;
    const problems = diagnose({
      ...base,
      statefulSetFailedCreate:
        "create Pod demo-gateway-3 in StatefulSet demo-gateway failed error: pods is forbidden",
      unreadyPods: [unschedulable, pulling],
    });
    assert.deepEqual(
      problems.map((p) => p.reason),
      ["FailedCreate", "Unschedulable", "ImagePullBackOff"],
    );
    assert.equal(
      problems[1]?.message,
      "Pod demo-gateway-3 cannot be scheduled: 0/1 nodes are available: 1 Insufficient cpu.",
    );
    assert.equal(
      problems[2]?.message,
      'Pod demo-logic-y, container logic: ImagePullBackOff: Back-off pulling image "r/cc:nope".',
    );
  });
});

describe("checkReferences", () => {
  it("names a missing Secret, a missing key and the spec field that points at them", async () => {
    const spec = resolveSpec({
      store: { nats: { url: "nats://n:4222" } },
      auth: {
        jwt: { secretKeyRef: { name: "chat-auth" } },
        apiKeys: { secretKeyRef: { name: "chat-auth" } },
      },
    });
    const reads: string[] = [];
    const problems = await checkReferences(references(spec), "chat", async (kind, name) => {
      reads.push(`${kind}/${name}`);
      return ["secret"];
    });
    assert.deepEqual(reads, ["Secret/chat-auth"], "one read per object");
    assert.deepEqual(problems, [
      {
        reason: "SecretNotFound",
        message:
          "Secret chat-auth has no key api-keys (from spec.auth.apiKeys.secretKeyRef); its keys are secret.",
      },
    ]);
    const none = await checkReferences(references(spec), "chat", async () => undefined);
    assert.equal(none[0]?.reason, "SecretNotFound");
    assert.match(
      none[0]?.message ?? "",
      /^Secret chat-auth \(key secret, from spec.auth.jwt.secretKeyRef\) does not exist in namespace chat/,
    );
  });
});
