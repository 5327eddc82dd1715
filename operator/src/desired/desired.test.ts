import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type {
  KubernetesObject,
  V1ConfigMap,
  V1Deployment,
  V1PersistentVolumeClaim,
  V1Role,
  V1Service,
  V1StatefulSet,
} from "@kubernetes/client-node";
import { chatCluster } from "../testing/fixtures.ts";
import { buildDesired, type DesiredOptions } from "./index.ts";
import { CONFIG_HASH_ANNOTATION, MANAGED_BY_LABEL } from "./names.ts";

const OPTS: DesiredOptions = {
  defaultImage: "ghcr.io/chatcluster/chatcluster:0.1.0",
  serviceMonitorAvailable: false,
};

function find<T extends KubernetesObject>(objs: KubernetesObject[], kind: string, name: string): T {
  const o = objs.find((x) => x.kind === kind && x.metadata?.name === name);
  assert.ok(o, `${kind}/${name} missing; have ${objs.map((x) => `${x.kind}/${x.metadata?.name}`).join(" ")}`);
  return o as T;
}

describe("buildDesired", () => {
  it("creates every child with labels and a controller owner reference", () => {
    const { objects } = buildDesired(chatCluster(), OPTS);
    const kinds = objects.map((o) => `${o.kind}/${o.metadata?.name}`).sort();
    assert.deepEqual(kinds, [
      "ConfigMap/demo-gateway-config",
      "ConfigMap/demo-logic-config",
      "Deployment/demo-logic",
      "NetworkPolicy/demo-gateway",
      "NetworkPolicy/demo-logic",
      "PodDisruptionBudget/demo-gateway",
      "PodDisruptionBudget/demo-logic",
      "Role/demo-logic-endpointslices",
      "RoleBinding/demo-logic-endpointslices",
      "Service/demo-gateway",
      "Service/demo-gateway-internal",
      "Service/demo-logic",
      "ServiceAccount/demo-logic",
      "StatefulSet/demo-gateway",
    ]);
    for (const o of objects) {
      assert.equal(o.metadata?.namespace, "chat");
      assert.equal(o.metadata?.labels?.[MANAGED_BY_LABEL], "chatcluster-operator");
      const [ref] = o.metadata?.ownerReferences ?? [];
      assert.deepEqual(ref, {
        apiVersion: "chatcluster.io/v1alpha1",
        kind: "ChatCluster",
        name: "demo",
        uid: "0b5e6a2c-1111-4a4a-9c9c-000000000001",
        controller: true,
        blockOwnerDeletion: true,
      });
    }
  });

  it("builds the gateway StatefulSet for draining, probes and a read-only non-root container", () => {
    const cc = chatCluster({ gateway: { replicas: 3, drainSeconds: 45 } });
    const sts = find<V1StatefulSet>(buildDesired(cc, OPTS).objects, "StatefulSet", "demo-gateway");
    const s = sts.spec!;
    assert.equal(s.replicas, 3);
    assert.equal(s.podManagementPolicy, "Parallel");
    // The operator replaces gateway pods itself, one drained pod at a time.
    assert.deepEqual(s.updateStrategy, { type: "OnDelete" });
    assert.equal(s.serviceName, "demo-gateway-internal");
    const pod = s.template.spec!;
    assert.equal(pod.terminationGracePeriodSeconds, 5 + 45 + 10 + 5);
    const c = pod.containers[0]!;
    assert.deepEqual(c.args, ["gateway"]);
    assert.equal(c.image, "ghcr.io/chatcluster/chatcluster:0.1.0");
    assert.equal(c.readinessProbe?.httpGet?.path, "/readyz");
    assert.equal(c.readinessProbe?.httpGet?.port, "metrics");
    assert.equal(c.livenessProbe?.httpGet?.path, "/healthz");
    assert.equal(c.lifecycle?.preStop?.sleep?.seconds, 5);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.deepEqual(
      c.ports?.map((p) => [p.name, p.containerPort]),
      [
        ["client", 8080],
        ["internal", 9090],
        ["metrics", 9102],
      ],
    );
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
    assert.equal(env.CHATCLUSTER_GATEWAY_ID?.valueFrom?.fieldRef?.fieldPath, "metadata.name");
    assert.equal(env.CHATCLUSTER_INTERNAL_SECRET?.valueFrom?.secretKeyRef?.name, "demo-internal-token");
    assert.equal(env.CHATCLUSTER_INTERNAL_SECRET?.valueFrom?.secretKeyRef?.name, "demo-internal-token");
    assert.equal(c.envFrom?.[0]?.configMapRef?.name, "demo-gateway-config");
    assert.match(s.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION] ?? "", /^[0-9a-f]{16}$/);
  });

  it("builds a headless internal Service for EndpointSlice discovery and a client Service from the spec", () => {
    const cc = chatCluster({
      gateway: { service: { type: "LoadBalancer", annotations: { "example.com/lb": "internal" } } },
    });
    const objs = buildDesired(cc, OPTS).objects;
    const headless = find<V1Service>(objs, "Service", "demo-gateway-internal");
    assert.equal(headless.spec?.clusterIP, "None");
    assert.equal(headless.spec?.publishNotReadyAddresses, true);
    assert.equal(headless.spec?.ports?.[0]?.name, "internal");
    assert.equal(headless.spec?.ports?.[0]?.port, 9090);
    const client = find<V1Service>(objs, "Service", "demo-gateway");
    assert.equal(client.spec?.type, "LoadBalancer");
    assert.deepEqual(client.metadata?.annotations, { "example.com/lb": "internal" });
    assert.equal(client.spec?.ports?.[0]?.port, 8080);
  });

  it("builds the logic Deployment with surge-only rollouts, discovery args and auth from Secrets", () => {
    const cc = chatCluster({
      logic: { replicas: 3 },
      auth: {
        jwt: { secretKeyRef: { name: "chat-auth" } },
        apiKeys: { secretKeyRef: { name: "chat-auth", key: "keys" } },
      },
    });
    const dep = find<V1Deployment>(buildDesired(cc, OPTS).objects, "Deployment", "demo-logic");
    assert.equal(dep.spec?.replicas, 3);
    assert.deepEqual(dep.spec?.strategy, {
      type: "RollingUpdate",
      rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
    });
    const pod = dep.spec!.template.spec!;
    assert.equal(pod.serviceAccountName, "demo-logic");
    const c = pod.containers[0]!;
    assert.deepEqual(c.args, [
      "logic",
      "--discovery=kubernetes",
      "--discovery-service=demo-gateway-internal",
    ]);
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
    assert.deepEqual(env.CHATCLUSTER_JWT_SECRET?.valueFrom?.secretKeyRef, {
      name: "chat-auth",
      key: "secret",
    });
    assert.deepEqual(env.CHATCLUSTER_API_KEYS?.valueFrom?.secretKeyRef, { name: "chat-auth", key: "keys" });
    assert.equal(env.CHATCLUSTER_POD_NAMESPACE?.valueFrom?.fieldRef?.fieldPath, "metadata.namespace");
  });

  it("mounts a JWKS from a ConfigMap as the file the logic tier reads", () => {
    const cc = chatCluster({ auth: { jwks: { configMapKeyRef: { name: "idp" } } } });
    const d = buildDesired(cc, OPTS);
    const pod = find<V1Deployment>(d.objects, "Deployment", "demo-logic").spec!.template.spec!;
    const vol = pod.volumes?.find((v) => v.name === "jwks");
    assert.deepEqual(vol?.configMap, { name: "idp", items: [{ key: "jwks.json", path: "jwks.json" }] });
    const mount = pod.containers[0]?.volumeMounts?.find((m) => m.name === "jwks");
    assert.equal(mount?.mountPath, "/etc/chatcluster/jwks");
    const cm = find<V1ConfigMap>(d.objects, "ConfigMap", "demo-logic-config");
    assert.equal(cm.data?.CHATCLUSTER_JWT_JWKS_FILE, "/etc/chatcluster/jwks/jwks.json");
  });

  it("gives logic RBAC to read EndpointSlices and nothing else", () => {
    const role = find<V1Role>(buildDesired(chatCluster(), OPTS).objects, "Role", "demo-logic-endpointslices");
    assert.deepEqual(role.rules, [
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
    ]);
  });

  it("puts store settings in the logic ConfigMap and a PVC plus Recreate for SQLite", () => {
    const nats = buildDesired(
      chatCluster({ store: { nats: { url: "nats://a:4222", stream: { name: "CHAT", maxAge: "24h" } } } }),
      OPTS,
    );
    const natsCm = find<V1ConfigMap>(nats.objects, "ConfigMap", "demo-logic-config");
    assert.equal(natsCm.data?.CHATCLUSTER_STORE, "nats");
    assert.equal(natsCm.data?.CHATCLUSTER_NATS_URLS, "nats://a:4222");
    assert.equal(natsCm.data?.CHATCLUSTER_NATS_STREAM, "CHAT");
    assert.equal(natsCm.data?.CHATCLUSTER_NATS_MAX_AGE, "24h");
    assert.equal(natsCm.data?.CHATCLUSTER_DISCOVERY_SERVICE, "demo-gateway-internal");

    const lite = buildDesired(
      chatCluster({ logic: { replicas: 1 }, store: { sqlite: { size: "5Gi", storageClassName: "fast" } } }),
      OPTS,
    );
    const pvc = find<V1PersistentVolumeClaim>(lite.objects, "PersistentVolumeClaim", "demo-logic-data");
    assert.equal(pvc.spec?.resources?.requests?.storage, "5Gi");
    // Retained by default: no owner reference, so deleting the ChatCluster keeps the database.
    assert.equal(pvc.metadata?.ownerReferences, undefined);
    const deleting = buildDesired(
      chatCluster({ logic: { replicas: 1 }, store: { sqlite: { deletePolicy: "Delete" } } }),
      OPTS,
    );
    const owned = find<V1PersistentVolumeClaim>(deleting.objects, "PersistentVolumeClaim", "demo-logic-data");
    assert.equal(owned.metadata?.ownerReferences?.[0]?.kind, "ChatCluster");
    assert.equal(pvc.spec?.storageClassName, "fast");
    const dep = find<V1Deployment>(lite.objects, "Deployment", "demo-logic");
    assert.deepEqual(dep.spec?.strategy, { type: "Recreate" });
    const mount = dep.spec?.template.spec?.containers[0]?.volumeMounts?.find((m) => m.name === "data");
    assert.equal(mount?.mountPath, "/data");
    assert.equal(
      find<V1ConfigMap>(lite.objects, "ConfigMap", "demo-logic-config").data?.CHATCLUSTER_SQLITE_DATA_DIR,
      "/data",
    );
  });

  it("changes the config hash, and only it, when configuration changes", () => {
    const a = buildDesired(chatCluster(), OPTS);
    const b = buildDesired(chatCluster(), OPTS);
    assert.equal(a.gatewayConfigHash, b.gatewayConfigHash);
    assert.equal(a.logicConfigHash, b.logicConfigHash);
    const c = buildDesired(chatCluster({ gateway: { maxConnections: 5 } }), OPTS);
    assert.notEqual(c.gatewayConfigHash, a.gatewayConfigHash);
    assert.equal(c.logicConfigHash, a.logicConfigHash);
    const d = buildDesired(chatCluster({ store: { nats: { url: "nats://other:4222" } } }), OPTS);
    assert.notEqual(d.logicConfigHash, a.logicConfigHash);
    // Scaling is not configuration: it must not roll pods.
    const e = buildDesired(chatCluster({ gateway: { replicas: 7 } }), OPTS);
    assert.equal(e.gatewayConfigHash, a.gatewayConfigHash);
  });

  it("resolves each tier's image from its own fields, then spec.image, then the operator default", () => {
    const images = (spec: Parameters<typeof chatCluster>[0]) => buildDesired(chatCluster(spec), OPTS).images;
    assert.deepEqual(images({ image: { tag: "1.2.3" } }), {
      gateway: "ghcr.io/chatcluster/chatcluster:1.2.3",
      logic: "ghcr.io/chatcluster/chatcluster:1.2.3",
    });
    assert.equal(
      images({ image: { repository: "registry.local:5000/cc" } }).gateway,
      "registry.local:5000/cc:0.1.0",
    );
    assert.equal(images({ image: { repository: "r/cc", tag: "sha256:abc" } }).gateway, "r/cc@sha256:abc");
    assert.deepEqual(images({ image: { tag: "1.0" }, logic: { image: { tag: "1.1" } } }), {
      gateway: "ghcr.io/chatcluster/chatcluster:1.0",
      logic: "ghcr.io/chatcluster/chatcluster:1.1",
    });
    const digest = `sha256:${"a".repeat(64)}`;
    assert.equal(
      images({ gateway: { image: { tag: "1.0", digest } } }).gateway,
      `ghcr.io/chatcluster/chatcluster@${digest}`,
    );
    const d = buildDesired(chatCluster({ logic: { image: { pullPolicy: "Always" } } }), OPTS);
    const pull = (kind: string) =>
      find<V1StatefulSet>(d.objects, kind, kind === "Deployment" ? "demo-logic" : "demo-gateway").spec
        ?.template.spec?.containers[0]?.imagePullPolicy;
    assert.equal(pull("Deployment"), "Always");
    assert.equal(pull("StatefulSet"), "IfNotPresent");
  });

  it("keeps the recorded images when the operator default changes, unless upgradePolicy is FollowOperator", () => {
    const next = { ...OPTS, defaultImage: "ghcr.io/chatcluster/chatcluster:0.2.0" };
    const recordedImages = {
      gateway: "ghcr.io/chatcluster/chatcluster:0.1.0",
      logic: "ghcr.io/chatcluster/chatcluster:0.1.0",
    };
    assert.deepEqual(buildDesired(chatCluster(), { ...next, recordedImages }).images, recordedImages);
    // Changing an image field resolves the unset parts against the recorded image, not the new default.
    assert.equal(
      buildDesired(chatCluster({ logic: { image: { tag: "0.1.5" } } }), { ...next, recordedImages }).images
        .logic,
      "ghcr.io/chatcluster/chatcluster:0.1.5",
    );
    const follow = buildDesired(chatCluster({ upgradePolicy: "FollowOperator" }), {
      ...next,
      recordedImages,
    });
    assert.deepEqual(follow.images, {
      gateway: "ghcr.io/chatcluster/chatcluster:0.2.0",
      logic: "ghcr.io/chatcluster/chatcluster:0.2.0",
    });
  });

  it("leaves the gateway pod template byte for byte alone on a change only logic reads, and the reverse", () => {
    const gatewayTemplate = (cc: ReturnType<typeof chatCluster>) =>
      JSON.stringify(
        find<V1StatefulSet>(buildDesired(cc, OPTS).objects, "StatefulSet", "demo-gateway").spec?.template,
      );
    const logicTemplate = (cc: ReturnType<typeof chatCluster>) =>
      JSON.stringify(
        find<V1Deployment>(buildDesired(cc, OPTS).objects, "Deployment", "demo-logic").spec?.template,
      );
    const base = chatCluster();
    const logicOnly = chatCluster({
      logic: {
        image: { tag: "9.9.9", pullPolicy: "Always" },
        replicas: 5,
        resources: { requests: { cpu: "2" } },
        ports: { api: 9999 },
      },
      auth: {
        jwt: { secretKeyRef: { name: "other", key: "k" } },
        apiKeys: { secretKeyRef: { name: "keys" } },
      },
      store: { nats: { url: "nats://elsewhere:4222", stream: { maxAge: "1h" } } },
    });
    assert.equal(gatewayTemplate(logicOnly), gatewayTemplate(base));
    assert.notEqual(logicTemplate(logicOnly), logicTemplate(base));
    const gatewayOnly = chatCluster({
      gateway: {
        image: { tag: "9.9.9" },
        replicas: 7,
        resources: { limits: { memory: "2Gi" } },
        maxConnections: 5,
        drainSeconds: 90,
        rollout: { minIntervalSeconds: 60, paused: true },
      },
    });
    assert.equal(logicTemplate(gatewayOnly), logicTemplate(base));
    assert.notEqual(gatewayTemplate(gatewayOnly), gatewayTemplate(base));
  });

  it("steps the gateway replicas the operator asks for, not the spec's", () => {
    const sts = find<V1StatefulSet>(
      buildDesired(chatCluster({ gateway: { replicas: 1 } }), { ...OPTS, gatewayReplicas: 3 }).objects,
      "StatefulSet",
      "demo-gateway",
    );
    assert.equal(sts.spec?.replicas, 3);
  });

  it("adds the tier selector to spread constraints that have none and passes placement through", () => {
    const cc = chatCluster({
      placement: {
        nodeSelector: { pool: "chat" },
        tolerations: [{ key: "dedicated", operator: "Equal", value: "chat", effect: "NoSchedule" }],
        topologySpreadConstraints: [
          { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway" },
        ],
      },
    });
    const pod = find<V1StatefulSet>(buildDesired(cc, OPTS).objects, "StatefulSet", "demo-gateway").spec!
      .template.spec!;
    assert.deepEqual(pod.nodeSelector, { pool: "chat" });
    assert.equal(pod.tolerations?.[0]?.key, "dedicated");
    assert.deepEqual(pod.topologySpreadConstraints?.[0]?.labelSelector?.matchLabels, {
      "app.kubernetes.io/name": "chatcluster",
      "app.kubernetes.io/instance": "demo",
      "app.kubernetes.io/component": "gateway",
    });
  });

  it("adds a ServiceMonitor only when enabled and the API exists, and marks it absent otherwise", () => {
    const on = chatCluster({ metrics: { serviceMonitor: { enabled: true } } });
    assert.ok(!buildDesired(on, OPTS).objects.some((o) => o.kind === "ServiceMonitor"));
    const withApi = buildDesired(on, { ...OPTS, serviceMonitorAvailable: true });
    assert.ok(withApi.objects.some((o) => o.kind === "ServiceMonitor"));
    const off = buildDesired(chatCluster(), { ...OPTS, serviceMonitorAvailable: true });
    assert.deepEqual(
      off.absent.filter((a) => a.kind === "ServiceMonitor"),
      [{ apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", name: "demo" }],
    );
  });
});
