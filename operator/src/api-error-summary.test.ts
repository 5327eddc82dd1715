import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { summarizeError } from "./api-error-summary.ts";
import { OperatorError } from "./operator-error.ts";

const at = { verb: "apply", kind: "StatefulSet", name: "demo-gateway", namespace: "chat" };
const answer = (status: number, message: string, reason?: string) =>
  new OperatorError(
    "api_error",
    `PATCH /apis/apps/v1/namespaces/chat/statefulsets/demo-gateway: ${status} ${message}`,
    {
      status,
      answer: {
        method: "PATCH",
        path: "/apis/apps/v1/namespaces/chat/statefulsets/demo-gateway",
        message,
        ...(reason ? { reason } : {}),
      },
    },
  );

describe("summarizeError", () => {
  it("tells an invalid object in one sentence without the request line", () => {
    const s = summarizeError(
      answer(
        422,
        'StatefulSet.apps "demo-gateway" is invalid: spec.template.spec.tolerations[0].operator: Unsupported value: "Bogus": supported values: "Equal", "Exists"',
        "Invalid",
      ),
      at,
    );
    assert.equal(
      s,
      'The API server refused StatefulSet demo-gateway as invalid: spec.template.spec.tolerations[0].operator: Unsupported value: "Bogus": supported values: "Equal", "Exists".',
    );
    assert.doesNotMatch(s, /PATCH|\/apis\//);
  });

  it("points a missing permission at the RBAC docs", () => {
    const s = summarizeError(
      answer(
        403,
        'statefulsets.apps "demo-gateway" is forbidden: User "system:serviceaccount:default:op" cannot patch resource "statefulsets" in API group "apps" in the namespace "chat"',
        "Forbidden",
      ),
      at,
    );
    assert.match(
      s,
      /^The operator is not allowed to apply StatefulSet demo-gateway in namespace chat; grant the permissions listed in docs\/operator.md/,
    );
  });

  it("says an unreachable API server and other failures are retried", () => {
    const down = new OperatorError("api_unreachable", "PATCH x: connect ECONNREFUSED", {
      answer: { method: "PATCH", path: "x", message: "connect ECONNREFUSED 127.0.0.1:6443" },
    });
    assert.equal(
      summarizeError(down, at),
      "Could not reach the API server to apply StatefulSet demo-gateway (connect ECONNREFUSED 127.0.0.1:6443); retrying with backoff.",
    );
    assert.match(
      summarizeError(answer(500, "etcdserver: request timed out"), at),
      /^The API server failed to apply StatefulSet demo-gateway \(HTTP 500: etcdserver: request timed out\); retrying/,
    );
  });
});
