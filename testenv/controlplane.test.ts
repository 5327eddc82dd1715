// Proves the Kubernetes part of the testenv is real: CRDs get served, server-side
// apply detects field-manager conflicts, kwok makes StatefulSet/Deployment pods
// Ready with IPs and EndpointSlices, and watches recover from 410 Gone after an
// etcd compaction by relisting.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ApiException,
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  type KubernetesListObject,
  type KubernetesObject,
  KubernetesObjectApi,
  ListWatch,
  PatchStrategy,
  type V1ConfigMap,
  type V1CustomResourceDefinition,
  Watch,
} from "@kubernetes/client-node";
import { type ControlPlane, needsReal, startControlPlane, trackFailures } from "./harness/index.ts";

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
    await sleep(200);
  }
}

/** Compacts etcd at its current revision through etcd's JSON gateway; returns the revision. */
async function compactEtcd(etcdUrl: string): Promise<number> {
  const range = await fetch(`${etcdUrl}/v3/kv/range`, {
    method: "POST",
    body: JSON.stringify({ key: Buffer.from("/").toString("base64") }),
  });
  const revision = Number(((await range.json()) as { header: { revision: string } }).header.revision);
  const res = await fetch(`${etcdUrl}/v3/kv/compaction`, {
    method: "POST",
    body: JSON.stringify({ revision: String(revision), physical: true }),
  });
  assert.equal(res.status, 200, await res.text());
  return revision;
}

const GROUP = "testenv.chatcluster.io";

/** A namespaced CRD `<kind lowercase>s.testenv.chatcluster.io` with a `spec.size` field. */
function crd(kind: string, printerColumns = false): V1CustomResourceDefinition {
  const singular = kind.toLowerCase();
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${singular}s.${GROUP}` },
    spec: {
      group: GROUP,
      scope: "Namespaced",
      names: { plural: `${singular}s`, singular, kind, listKind: `${kind}List` },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: { spec: { type: "object", properties: { size: { type: "integer" } } } },
            },
          },
          ...(printerColumns
            ? { additionalPrinterColumns: [{ name: "Size", type: "integer", jsonPath: ".spec.size" }] }
            : {}),
        },
      ],
    },
  };
}

function cr(
  kind: string,
  namespace: string,
  name: string,
  size: number,
): KubernetesObject & { spec: { size: number } } {
  return { apiVersion: `${GROUP}/v1`, kind, metadata: { name, namespace }, spec: { size } };
}

async function waitEstablished(apiext: ApiextensionsV1Api, name: string): Promise<void> {
  await eventually(`CRD ${name} Established`, async () => {
    const got = await apiext.readCustomResourceDefinition({ name });
    return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")
      ? true
      : undefined;
  });
}

/** Outcome of one raw watch request: an HTTP error status or an ERROR event's code. */
function watchOnce(cp: ControlPlane, path: string, resourceVersion: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let ctl: AbortController | undefined;
    const settle = (code: number | undefined) => {
      settled = true;
      resolve(code);
      ctl?.abort();
    };
    new Watch(cp.kubeConfig)
      .watch(
        path,
        { resourceVersion },
        (type: string, obj: { code?: number }) => settle(type === "ERROR" ? obj.code : 200),
        (err: { statusCode?: number } | null) => settle(err?.statusCode),
      )
      .then((c) => {
        ctl = c;
        if (settled) c.abort();
      }, reject);
  });
}

describe("testenv control plane (etcd, kube-apiserver, kcm, scheduler, kwok)", {
  skip: needsReal("a control plane (make testenv)"),
}, () => {
  let cp: ControlPlane;
  const failed = trackFailures();

  before(async (t) => {
    const started = Date.now();
    cp = await startControlPlane({ name: "testenv-controlplane", kwok: true });
    const ms = Date.now() - started;
    if ("diagnostic" in t) t.diagnostic(`control plane with kwok ready in ${ms} ms`);
    console.error(`testenv: control plane with kwok ready in ${ms} ms`);
  });
  after(async () => {
    await cp?.stop({ failed: failed() });
  });

  test("kubectl and the kubeconfig reach the API server as an admin", async () => {
    const nodes = await cp.kubectl(["get", "nodes", "-o", "name"]);
    assert.match(nodes, /node\/kwok-node-0/);
    const can = await cp.kubectl(["auth", "can-i", "*", "*"]);
    assert.equal(can.trim(), "yes");
  });

  test("a CRD is installed and served", async () => {
    const apiext = cp.kubeConfig.makeApiClient(ApiextensionsV1Api);
    await apiext.createCustomResourceDefinition({ body: crd("Gadget") });
    await waitEstablished(apiext, `gadgets.${GROUP}`);
    const objects = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
    const created = await eventually("custom resource create", () =>
      objects.create(cr("Gadget", "default", "g0", 1)),
    );
    assert.equal(created.metadata?.name, "g0");
    const list = await objects.list(`${GROUP}/v1`, "Gadget", "default");
    assert.deepEqual(
      list.items.map((i) => i.metadata?.name),
      ["g0"],
    );
  });

  test("server-side apply: a field-manager conflict is 409 without force and wins with force", async () => {
    const objects = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
    const cm = (value: string): V1ConfigMap => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "ssa", namespace: "default" },
      data: { owner: value },
    });
    await objects.patch(cm("a"), undefined, undefined, "manager-a", false, PatchStrategy.ServerSideApply);
    await assert.rejects(
      objects.patch(cm("b"), undefined, undefined, "manager-b", false, PatchStrategy.ServerSideApply),
      (err: unknown) => {
        assert.ok(err instanceof ApiException, `expected ApiException, got ${String(err)}`);
        assert.equal(err.code, 409);
        assert.match(JSON.stringify(err.body), /conflict/i);
        return true;
      },
    );
    const forced = await objects.patch(
      cm("b"),
      undefined,
      undefined,
      "manager-b",
      true,
      PatchStrategy.ServerSideApply,
    );
    assert.equal((forced as V1ConfigMap).data?.owner, "b");
    const managers = (forced.metadata?.managedFields ?? []).map((f) => f.manager);
    assert.ok(managers.includes("manager-b"), `managedFields: ${managers.join(",")}`);
  });

  test("a StatefulSet of 3 gets 3 Ready pods with IPs and an EndpointSlice with 3 ready endpoints", async () => {
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const discovery = cp.kubeConfig.makeApiClient(DiscoveryV1Api);
    const namespace = "sts";
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: "web" },
        spec: { clusterIP: "None", selector: { app: "web" }, ports: [{ name: "http", port: 80 }] },
      },
    });
    const template = (app: string) => ({
      metadata: { labels: { app } },
      spec: { containers: [{ name: app, image: "registry.invalid/web:1", ports: [{ containerPort: 80 }] }] },
    });
    await apps.createNamespacedStatefulSet({
      namespace,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 3,
          serviceName: "web",
          selector: { matchLabels: { app: "web" } },
          template: template("web"),
        },
      },
    });
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: "api" },
        spec: { replicas: 2, selector: { matchLabels: { app: "api" } }, template: template("api") },
      },
    });

    await eventually("StatefulSet 3/3 ready", async () => {
      const sts = await apps.readNamespacedStatefulSet({ name: "web", namespace });
      return sts.status?.readyReplicas === 3 ? true : undefined;
    });
    await eventually("Deployment 2/2 available", async () => {
      const d = await apps.readNamespacedDeployment({ name: "api", namespace });
      return d.status?.availableReplicas === 2 ? true : undefined;
    });
    const pods = await core.listNamespacedPod({ namespace, labelSelector: "app=web" });
    assert.deepEqual(pods.items.map((p) => p.metadata?.name).sort(), ["web-0", "web-1", "web-2"]);
    const podIPs = pods.items.map((p) => {
      assert.equal(p.spec?.nodeName, cp.nodeName);
      assert.ok(p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
      assert.ok(p.status?.podIP, "pod has an IP");
      return p.status.podIP;
    });

    const ready = await eventually("EndpointSlice with 3 ready endpoints", async () => {
      const slices = await discovery.listNamespacedEndpointSlice({
        namespace,
        labelSelector: "kubernetes.io/service-name=web",
      });
      const eps = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready === true);
      return eps.length === 3 ? eps : undefined;
    });
    assert.deepEqual(ready.flatMap((e) => e.addresses).sort(), [...podIPs].sort());
    assert.deepEqual(ready.map((e) => e.hostname).sort(), ["web-0", "web-1", "web-2"]);
  });

  test("a watch from a compacted resourceVersion gets 410 Gone, then relist + watch resumes", async () => {
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const apiext = cp.kubeConfig.makeApiClient(ApiextensionsV1Api);
    const objects = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
    const namespace = "watch";
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const marker = await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: "marker" } },
    });
    const staleRV = marker.metadata?.resourceVersion ?? "";
    const path = `/apis/${GROUP}/v1/namespaces/${namespace}/sprockets`;

    // Make staleRV too old everywhere: the sprockets watch cache only starts
    // when the CRD below is served, and etcd compacts the revision away.
    await apiext.createCustomResourceDefinition({ body: crd("Sprocket") });
    await waitEstablished(apiext, `sprockets.${GROUP}`);
    await eventually("sprockets served", () => objects.create(cr("Sprocket", namespace, "s1", 1)));
    const compacted = await compactEtcd(cp.etcdUrl);
    assert.ok(compacted > Number(staleRV));

    assert.equal(await watchOnce(cp, path, staleRV), 410);

    // Relist, then watch from the list's resourceVersion: events flow again.
    const list = await objects.list(`${GROUP}/v1`, "Sprocket", namespace);
    assert.deepEqual(
      list.items.map((i) => i.metadata?.name),
      ["s1"],
    );
    const seen = new Promise<string>((resolve, reject) => {
      new Watch(cp.kubeConfig)
        .watch(
          path,
          { resourceVersion: list.metadata?.resourceVersion },
          (type: string, obj: KubernetesObject) => {
            if (type === "ADDED") resolve(obj.metadata?.name ?? "");
          },
          (err: unknown) => reject(new Error(`watch ended: ${String(err)}`)),
        )
        .then((ctl) => seen.finally(() => ctl.abort()))
        .catch(reject);
    });
    await objects.create(cr("Sprocket", namespace, "s2", 2));
    assert.equal(await seen, "s2");
  });

  test("an informer whose resourceVersion expired relists (410 Gone) and catches up", async () => {
    const apiext = cp.kubeConfig.makeApiClient(ApiextensionsV1Api);
    const objects = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
    const namespace = "watch";
    const path = `/apis/${GROUP}/v1/namespaces/${namespace}/sprockets`;
    let lists = 0;
    const informer = new ListWatch<KubernetesObject>(
      path,
      new Watch(cp.kubeConfig),
      async () => {
        lists++;
        return (await objects.list(
          `${GROUP}/v1`,
          "Sprocket",
          namespace,
        )) as KubernetesListObject<KubernetesObject>;
      },
      false,
    );
    const names = () =>
      informer
        .list(namespace)
        .map((o) => o.metadata?.name)
        .sort();
    try {
      await informer.start();
      await eventually("informer synced", async () => (names().includes("s2") ? true : undefined));
      assert.equal(lists, 1);
      const lastRV = informer.latestResourceVersion();
      // Disconnected: meanwhile the CRD changes (the API server rebuilds its
      // storage and watch cache), objects change and etcd compacts.
      await informer.stop();
      const name = `sprockets.${GROUP}`;
      const current = await apiext.readCustomResourceDefinition({ name });
      const updated = crd("Sprocket", true);
      updated.metadata = { name, resourceVersion: current.metadata?.resourceVersion };
      await apiext.replaceCustomResourceDefinition({ name, body: updated });
      await eventually("sprocket s3 created", () => objects.create(cr("Sprocket", namespace, "s3", 3)));
      await compactEtcd(cp.etcdUrl);
      await eventually("lastRV reported as 410 Gone", async () =>
        (await watchOnce(cp, path, lastRV)) === 410 ? true : undefined,
      );

      // Reconnect from lastRV: the server answers 410, the informer relists.
      await informer.start();
      await eventually("informer relisted and caught up", async () =>
        lists >= 2 && names().includes("s3") ? true : undefined,
      );
      assert.deepEqual(names(), ["s1", "s2", "s3"]);
    } finally {
      await informer.stop();
    }
  });
});
