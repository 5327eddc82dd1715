import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { DiscoveryV1Api, KubeConfig, type V1EndpointSlice } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { createLogger } from "../../../platform/logger.ts";
import {
  type ControlPlane,
  needsReal,
  startControlPlane,
  trackFailures,
} from "../../../testenv/harness/index.ts";
import type { GatewayEndpoint } from "./discovery.ts";
import { createDiscoveryMetrics } from "./discovery-metrics.ts";
import { EndpointSliceDiscovery, gatewayEndpoints } from "./endpoint-slice-discovery.ts";

const NS = "default";
const SERVICE = "demo-gateway-internal";

function endpoint(
  pod: string,
  ip: string,
  conditions: { ready?: boolean; serving?: boolean; terminating?: boolean },
) {
  return { addresses: [ip], conditions, targetRef: { kind: "Pod", name: pod, namespace: NS } };
}

function slice(name: string, endpoints: ReturnType<typeof endpoint>[]): V1EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace: NS, labels: { "kubernetes.io/service-name": SERVICE } },
    addressType: "IPv4",
    ports: [
      { name: "metrics", port: 9102, protocol: "TCP" },
      { name: "grpc-internal", port: 9090, protocol: "TCP" },
    ],
    endpoints,
  };
}

describe("gatewayEndpoints", () => {
  it("keeps every endpoint whatever its conditions (starting, ready, draining) at the named port, one per pod", () => {
    const got = gatewayEndpoints(
      [
        slice("a", [
          endpoint("gw-1", "10.0.0.2", { ready: true, serving: true }),
          endpoint("gw-0", "10.0.0.1", { ready: false, serving: true, terminating: true }),
          endpoint("gw-2", "10.0.0.3", { ready: false, serving: false, terminating: true }),
          endpoint("gw-3", "10.0.0.4", {}),
          // A starting gateway: it turns ready only once logic has connected to it.
          endpoint("gw-4", "10.0.0.5", { ready: false, serving: false }),
          // The headless Service publishes not-ready addresses: ready, not serving.
          endpoint("gw-5", "10.0.0.6", { ready: true, serving: false }),
        ]),
      ],
      "grpc-internal",
    );
    assert.deepEqual(got, [
      { id: "gw-0", address: "10.0.0.1:9090", gatewayId: "gw-0" },
      { id: "gw-1", address: "10.0.0.2:9090", gatewayId: "gw-1" },
      { id: "gw-2", address: "10.0.0.3:9090", gatewayId: "gw-2" },
      { id: "gw-3", address: "10.0.0.4:9090", gatewayId: "gw-3" },
      { id: "gw-4", address: "10.0.0.5:9090", gatewayId: "gw-4" },
      { id: "gw-5", address: "10.0.0.6:9090", gatewayId: "gw-5" },
    ]);
  });
});

/** A TCP proxy in front of the API server whose connections a test can cut. */
async function startCuttableProxy(
  target: URL,
): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    upstream.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const addr = server.address();
  assert.ok(addr && typeof addr === "object");
  return {
    port: addr.port,
    cut() {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function waitForEndpoints(
  d: EndpointSliceDiscovery,
  want: (eps: readonly GatewayEndpoint[]) => boolean,
  timeoutMs = 20_000,
): Promise<readonly GatewayEndpoint[]> {
  if (want(d.endpoints())) return Promise.resolve(d.endpoints());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      d.off("change", onChange);
      reject(new Error(`timed out; endpoints now ${JSON.stringify(d.endpoints())}`));
    }, timeoutMs);
    const onChange = (eps: readonly GatewayEndpoint[]) => {
      if (!want(eps)) return;
      clearTimeout(timer);
      d.off("change", onChange);
      resolve(eps);
    };
    d.on("change", onChange);
  });
}

const ids = (eps: readonly GatewayEndpoint[]) => eps.map((e) => e.id).join(",");

describe("EndpointSliceDiscovery against a real kube-apiserver", {
  skip: needsReal("a control plane (make testenv)"),
}, () => {
  let cp: ControlPlane;
  let api: DiscoveryV1Api;
  const failed = trackFailures();
  const log = createLogger("test", "silent");

  before(async () => {
    cp = await startControlPlane({ name: "endpointslice-discovery" });
    api = cp.kubeConfig.makeApiClient(DiscoveryV1Api);
  });
  after(async () => {
    await cp?.stop({ failed: failed() });
  });

  it("follows slices created, updated, marked terminating and deleted", async () => {
    const d = new EndpointSliceDiscovery({
      kubeConfig: cp.kubeConfig,
      namespace: NS,
      serviceName: SERVICE,
      portName: "grpc-internal",
      log,
      metrics: createDiscoveryMetrics(new Registry()),
    });
    await d.start();
    try {
      assert.deepEqual(d.endpoints(), []);
      await api.createNamespacedEndpointSlice({
        namespace: NS,
        body: slice("gw-a", [
          endpoint("gw-0", "10.0.0.1", { ready: true, serving: true }),
          endpoint("gw-1", "10.0.0.2", { ready: true, serving: true }),
        ]),
      });
      // A slice of another Service must not count.
      const other = slice("other", [endpoint("x-0", "10.0.9.9", { ready: true })]);
      other.metadata = { ...other.metadata, labels: { "kubernetes.io/service-name": "other" } };
      await api.createNamespacedEndpointSlice({ namespace: NS, body: other });
      assert.equal(ids(await waitForEndpoints(d, (e) => e.length === 2)), "gw-0,gw-1");

      await api.createNamespacedEndpointSlice({
        namespace: NS,
        body: slice("gw-b", [endpoint("gw-2", "10.0.0.3", { ready: true, serving: true })]),
      });
      assert.equal(ids(await waitForEndpoints(d, (e) => e.length === 3)), "gw-0,gw-1,gw-2");

      // Draining: terminating, no longer serving (its /readyz fails), still delivering: kept.
      await api.replaceNamespacedEndpointSlice({
        name: "gw-a",
        namespace: NS,
        body: slice("gw-a", [
          endpoint("gw-0", "10.0.0.1", { ready: false, serving: false, terminating: true }),
          endpoint("gw-1", "10.0.0.2", { ready: true, serving: true }),
        ]),
      });
      // Starting: not ready until logic connects: kept.
      await api.createNamespacedEndpointSlice({
        namespace: NS,
        body: slice("gw-s", [endpoint("gw-3", "10.0.0.4", { ready: false, serving: false })]),
      });
      assert.equal(ids(await waitForEndpoints(d, (e) => e.length === 4)), "gw-0,gw-1,gw-2,gw-3");

      // Gone from the slice (the pod was deleted): dropped.
      await api.replaceNamespacedEndpointSlice({
        name: "gw-a",
        namespace: NS,
        body: slice("gw-a", [endpoint("gw-1", "10.0.0.2", { ready: true, serving: true })]),
      });
      await api.deleteNamespacedEndpointSlice({ name: "gw-s", namespace: NS });
      assert.equal(ids(await waitForEndpoints(d, (e) => e.length === 2)), "gw-1,gw-2");

      await api.deleteNamespacedEndpointSlice({ name: "gw-a", namespace: NS });
      assert.equal(ids(await waitForEndpoints(d, (e) => e.length === 1)), "gw-2");
    } finally {
      await d.stop();
      await api.deleteCollectionNamespacedEndpointSlice({ namespace: NS });
    }
  });

  it("keeps its set through a cut connection and catches up on what changed meanwhile", async () => {
    const proxy = await startCuttableProxy(new URL(cp.server));
    const kc = new KubeConfig();
    const cluster = cp.kubeConfig.getCurrentCluster();
    const user = cp.kubeConfig.getCurrentUser();
    assert.ok(cluster && user);
    kc.loadFromOptions({
      clusters: [{ ...cluster, server: `https://127.0.0.1:${proxy.port}` }],
      users: [user],
      contexts: [{ name: "proxy", cluster: cluster.name, user: user.name }],
      currentContext: "proxy",
    });
    const registry = new Registry();
    const metrics = createDiscoveryMetrics(registry);
    const d = new EndpointSliceDiscovery({
      kubeConfig: kc,
      namespace: NS,
      serviceName: SERVICE,
      portName: "grpc-internal",
      log,
      metrics,
      baseBackoffMs: 100,
      maxBackoffMs: 1000,
    });
    try {
      await api.createNamespacedEndpointSlice({
        namespace: NS,
        body: slice("gw-c", [endpoint("gw-5", "10.0.0.5", { ready: true, serving: true })]),
      });
      await d.start();
      assert.equal(ids(await waitForEndpoints(d, (e) => e.length === 1)), "gw-5");

      // Cut every connection several times while the set changes behind the proxy's back.
      proxy.cut();
      await api.createNamespacedEndpointSlice({
        namespace: NS,
        body: slice("gw-d", [endpoint("gw-6", "10.0.0.6", { ready: true, serving: true })]),
      });
      assert.equal(ids(d.endpoints()), "gw-5", "the set is kept while the watch is down");
      proxy.cut();
      assert.equal(ids(await waitForEndpoints(d, (e) => e.length === 2)), "gw-5,gw-6");

      await api.deleteNamespacedEndpointSlice({ name: "gw-c", namespace: NS });
      proxy.cut();
      assert.equal(ids(await waitForEndpoints(d, (e) => e.length === 1)), "gw-6");
    } finally {
      await d.stop();
      await proxy.close();
      await api.deleteCollectionNamespacedEndpointSlice({ namespace: NS });
    }
  });
});
