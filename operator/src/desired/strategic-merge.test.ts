import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PatchError, strategicMerge } from "./strategic-merge.ts";

const BASE = {
  metadata: { labels: { app: "chat" }, annotations: { a: "1" } },
  spec: {
    containers: [
      {
        name: "gateway",
        image: "img",
        env: [
          { name: "A", value: "1" },
          { name: "B", value: "2" },
        ],
        ports: [{ name: "client", containerPort: 8080 }],
        volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
        resources: { limits: { memory: "1Gi" } },
      },
    ],
    volumes: [{ name: "tmp", emptyDir: {} }],
    tolerations: [{ key: "a", operator: "Exists" }],
    securityContext: { runAsNonRoot: true, runAsUser: 65532 },
  },
};

describe("strategicMerge", () => {
  it("merges maps and lists with a merge key item by item, as kubectl patch --type=strategic", () => {
    const out = strategicMerge(BASE, {
      metadata: { annotations: { b: "2" } },
      spec: {
        containers: [
          {
            name: "gateway",
            env: [
              { name: "B", value: "two" },
              { name: "C", value: "3" },
            ],
            volumeMounts: [{ name: "certs", mountPath: "/certs", readOnly: true }],
            resources: { limits: { cpu: "2" } },
          },
          { name: "proxy", image: "envoy:1.30", ports: [{ containerPort: 15000 }] },
        ],
        volumes: [{ name: "certs", secret: { secretName: "c" } }],
        tolerations: [{ key: "b", operator: "Exists" }],
      },
    });
    assert.deepEqual(out.metadata.annotations, { a: "1", b: "2" });
    const [gw, proxy] = out.spec.containers;
    assert.deepEqual(gw?.env, [
      { name: "A", value: "1" },
      { name: "B", value: "two" },
      { name: "C", value: "3" },
    ]);
    assert.deepEqual(gw?.volumeMounts, [
      { name: "tmp", mountPath: "/tmp" },
      { name: "certs", mountPath: "/certs", readOnly: true },
    ]);
    assert.deepEqual(gw?.resources, { limits: { memory: "1Gi", cpu: "2" } });
    assert.equal(gw?.image, "img");
    assert.deepEqual(proxy, { name: "proxy", image: "envoy:1.30", ports: [{ containerPort: 15000 }] });
    assert.deepEqual(
      out.spec.volumes.map((v) => v.name),
      ["tmp", "certs"],
    );
    // Tolerations have no merge key in the Kubernetes API: the list is replaced.
    assert.deepEqual(out.spec.tolerations, [{ key: "b", operator: "Exists" }]);
    assert.equal(BASE.spec.containers[0]?.env.length, 2, "the base is not modified");
  });

  it("removes with null and $patch: delete, and replaces with $patch: replace", () => {
    const out = strategicMerge(BASE, {
      spec: {
        securityContext: { $patch: "replace", runAsNonRoot: true, runAsUser: 1000 },
        containers: [{ name: "gateway", env: [{ name: "A", $patch: "delete" }], resources: null }],
        volumes: [{ $patch: "replace" }, { name: "only", emptyDir: {} }],
      },
      metadata: { labels: { app: null } },
    }) as typeof BASE & { spec: { containers: { resources?: unknown }[] } };
    assert.deepEqual(out.spec.securityContext, { runAsNonRoot: true, runAsUser: 1000 });
    assert.deepEqual(out.spec.containers[0]?.env, [{ name: "B", value: "2" }]);
    assert.equal("resources" in out.spec.containers[0]!, false);
    assert.deepEqual(out.spec.volumes, [{ name: "only", emptyDir: {} }]);
    assert.deepEqual(out.metadata.labels, {});
  });

  it("refuses what it cannot apply, naming the path", () => {
    assert.throws(
      () => strategicMerge(BASE, { spec: { containers: [{ image: "x" }] } }),
      (err: unknown) =>
        err instanceof PatchError &&
        /spec\.containers: every item needs its merge key name/.test(err.message),
    );
    assert.throws(
      () => strategicMerge(BASE, { spec: { $retainKeys: ["containers"] } }),
      /spec\.\$retainKeys: the directive \$retainKeys is not supported here/,
    );
    assert.throws(() => strategicMerge(BASE, { $patch: "delete" }), PatchError);
  });
});
