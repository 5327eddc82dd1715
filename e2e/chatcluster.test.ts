// What a user does, on a real node (kubelet, containerd, kube-proxy, CoreDNS):
// the install quick start of docs/install.md (NATS, helm install, a ChatCluster),
// then chat through the Services, scale, roll and delete pods under steady load,
// read the dashboards' queries from a real Prometheus, and uninstall.
//
// Each step is one test and depends on the ones before it (one cluster for the
// file). Every step asserts what a user would check; none only logs.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect as tlsConnect } from "node:tls";
import { CoordinationV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { ChatClient, type MessageFrame } from "../client/src/index.ts";
import { imageArchivePath } from "../image/build-image.ts";
import { DASHBOARDS } from "../monitoring/dashboards.ts";
import { LoadDriver, type LoadReport } from "../reliability/load-driver.ts";
import { trackFailures, waitFor } from "../testenv/harness/util.ts";
import { type RealNode, startRealNode } from "../testenv/node/real-node.ts";
import { ChatClusterOnNode, sample } from "./chat-cluster.ts";
import { type Prometheus, startPrometheus } from "./prometheus.ts";
import { builtImage, helm, QUICK_START, runQuickStart } from "./quick-start.ts";

const { name: NAME, releaseNamespace: RELEASE_NS } = QUICK_START;
/**
 * Steady load: 120 clients, 100 messages per second, ten clients per room (each
 * room's members spread over the gateways, so every message crosses gateways).
 */
const LOAD = { clients: 120, rooms: 12, ratePerSecond: 100 } as const;

const names = (pods: readonly V1Pod[]) => pods.map((p) => p.metadata?.name ?? "");
const uids = (pods: readonly V1Pod[]) => pods.map((p) => p.metadata?.uid ?? "");

function assertNothingLost(r: LoadReport, what: string): void {
  const detail = `${what}: ${JSON.stringify({ ...r, problems: r.problems.slice(0, 5) })}`;
  assert.ok(r.acked > 0, `nothing was acknowledged (${detail})`);
  assert.equal(r.lost, 0, `acknowledged messages lost (${detail})`);
  assert.equal(r.duplicates, 0, `duplicates (${detail})`);
  assert.equal(r.orderViolations, 0, `out of order (${detail})`);
  assert.equal(r.rejected, 0, `sends refused for good (${detail})`);
}

describe("ChatCluster on a real node, as a user runs it", () => {
  const failed = trackFailures();
  let node: RealNode;
  let chat: ChatClusterOnNode;
  let prom: Prometheus | undefined;
  const loads: LoadDriver[] = [];

  /** Connects a load of SDK clients through the gateway Service's cluster IP. */
  async function load(
    roomPrefix: string,
    shape: { clients: number; rooms: number; ratePerSecond: number },
  ): Promise<LoadDriver> {
    const url = await chat.gatewayUrl();
    const driver = new LoadDriver({
      urls: [url],
      ...shape,
      roomPrefix,
      token: (user) => chat.token(user),
      localAddress: () => undefined,
    });
    loads.push(driver);
    await driver.connect(60_000);
    return driver;
  }

  async function gatewayConnections(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const pod of await chat.pods("gateway")) {
      out.set(
        pod.metadata?.name ?? "",
        sample(await ChatClusterOnNode.metrics(pod), "chatcluster_gateway_connections"),
      );
    }
    return out;
  }

  /** Waits until the gateways hold every client of the load again (reconnects are spread out). */
  async function everyClientConnected(...gateways: string[]): Promise<void> {
    let last = new Map<string, number>();
    await waitFor(
      `${LOAD.clients} clients on ${gateways.join(", ")}`,
      async () => {
        last = await gatewayConnections();
        const total = [...last.values()].reduce((a, b) => a + b, 0);
        return total === LOAD.clients && [...last.keys()].join() === gateways.join() ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; connections now ${JSON.stringify([...last])}`);
    });
  }

  before(async () => {
    node = await startRealNode({ name: "e2e-chatcluster", images: [imageArchivePath] });
    chat = new ChatClusterOnNode(node.controlPlane);
    prom = await startPrometheus(node.controlPlane, join(node.logsDir, "..", "prometheus"), node.logsDir);
  });

  after(async () => {
    for (const l of loads) l.close();
    await prom?.stop();
    await node?.stop({ failed: failed() });
  });

  test("the quick start: NATS, helm install, the example ChatCluster; every pod Ready and the ChatCluster Ready", async (t) => {
    const started = Date.now();
    await runQuickStart(node, builtImage());
    t.diagnostic(`quick start done in ${Date.now() - started} ms`);
    const core = node.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const pods = (await core.listPodForAllNamespaces()).items;
    const notReady = pods.filter((p) => !ChatClusterOnNode.ready(p)).map((p) => p.metadata?.name);
    assert.deepEqual(notReady, []);
    assert.equal(pods.length, 1 + 2 + 2 + 2, "nats, two operators, two gateways, two logic pods");
    const cc = JSON.parse(await node.controlPlane.kubectl(["get", "chatcluster", NAME, "-o", "json"]));
    const ready = (cc.status.conditions as { type: string; status: string }[]).find(
      (c) => c.type === "Ready",
    );
    assert.equal(ready?.status, "True");
  });

  test("the operator runs as a pod and holds its Lease", async () => {
    const coordination = node.controlPlane.kubeConfig.makeApiClient(CoordinationV1Api);
    const lease = await coordination.readNamespacedLease({
      name: "chatcluster-operator",
      namespace: RELEASE_NS,
    });
    const core = node.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const operators = (
      await core.listNamespacedPod({
        namespace: RELEASE_NS,
        labelSelector: "app.kubernetes.io/component=operator",
      })
    ).items;
    assert.equal(operators.length, 2);
    const holder = operators.find((p) => p.metadata?.name === lease.spec?.holderIdentity);
    assert.ok(holder, `Lease holder ${lease.spec?.holderIdentity} is one of ${names(operators)}`);
    assert.equal(sample(await ChatClusterOnNode.metrics(holder), "chatcluster_operator_leader"), 1);
    const standby = operators.find((p) => p !== holder);
    assert.ok(standby);
    assert.equal(sample(await ChatClusterOnNode.metrics(standby), "chatcluster_operator_leader"), 0);
  });

  test("NATS JetStream is reachable in the cluster: logic created its streams through the nats Service", async () => {
    const core = node.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const nats = (await core.listNamespacedPod({ namespace: "nats" })).items[0];
    const res = await fetch(`http://${nats?.status?.podIP}:8222/jsz?streams=true`);
    const jsz = (await res.json()) as { account_details?: { stream_detail?: { name: string }[] }[] };
    const streams = (jsz.account_details ?? []).flatMap((a) => (a.stream_detail ?? []).map((s) => s.name));
    assert.ok(streams.includes("CHATCLUSTER"), `streams: ${streams.join(", ")}`);
    const cc = JSON.parse(await node.controlPlane.kubectl(["get", "chatcluster", NAME, "-o", "json"]));
    assert.equal(cc.status.store, "nats");
  });

  test("SDK clients connect through the gateway Service's cluster IP and chat across gateways", async () => {
    const driver = await load("across", { clients: 40, rooms: 4, ratePerSecond: 40 });
    const spread = await gatewayConnections();
    assert.equal(spread.size, 2);
    for (const [pod, n] of spread) assert.ok(n > 0, `${pod} has clients (${JSON.stringify([...spread])})`);
    driver.start();
    await sleep(4000);
    await driver.stop();
    const r = driver.verify();
    assertNothingLost(r, "chat across gateways");
    assert.equal(r.disconnects, 0);
    driver.close();
  });

  test("the internal link is mutual TLS with the operator's certificates: a gateway's internal port refuses a caller without one", async () => {
    const core = node.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const ca = await core.readNamespacedSecret({
      name: `${NAME}-internal-ca`,
      namespace: QUICK_START.namespace,
    });
    const caPem = Buffer.from(ca.data?.["tls.crt"] ?? "", "base64").toString("utf8");
    assert.match(caPem, /BEGIN CERTIFICATE/);
    const gateway = (await chat.pods("gateway"))[0];
    assert.ok(gateway?.status?.podIP);
    const refused = 'chatcluster_gateway_link_tls_refusals_total{reason="no_certificate"}';
    const count = async () => {
      const v = sample(await ChatClusterOnNode.metrics(gateway), refused);
      return Number.isNaN(v) ? 0 : v;
    };
    const before = await count();
    // The gateway must prove the name logic expects with a certificate of the
    // ChatCluster's CA, then refuse us for having no certificate of our own.
    const serverName = `gateway.${QUICK_START.namespace}.${NAME}.chatcluster.internal`;
    const outcome = await new Promise<{ verified: boolean; ended: string }>((resolve) => {
      let verified = false;
      const socket = tlsConnect({
        host: gateway.status?.podIP,
        port: 9090,
        ca: caPem,
        servername: serverName,
        ALPNProtocols: ["h2"],
      });
      socket.once("secureConnect", () => {
        verified = socket.authorized;
      });
      socket.once("error", (err: NodeJS.ErrnoException) =>
        resolve({ verified, ended: err.code ?? err.message }),
      );
      socket.once("close", () => resolve({ verified, ended: "closed" }));
      socket.setTimeout(10_000, () => {
        resolve({ verified, ended: "still open after 10 s" });
        socket.destroy();
      });
    });
    assert.equal(
      outcome.verified,
      true,
      `the gateway's certificate chains to ${NAME}-internal-ca and names ${serverName}`,
    );
    assert.notEqual(
      outcome.ended,
      "still open after 10 s",
      "a caller without a client certificate is cut off",
    );
    await waitFor(
      "the refusal counted by the gateway",
      async () => ((await count()) > before ? true : undefined),
      {
        timeoutMs: 10_000,
        intervalMs: 200,
      },
    );
  });

  test("a backend publishes through the logic Service and clients get it", async () => {
    const client = new ChatClient({ url: await chat.gatewayUrl(), token: () => chat.token("listener") });
    try {
      const got = new Promise<MessageFrame>((resolve) => client.on("message", resolve));
      const joined = new Promise<void>((resolve) => client.on("joined", () => resolve()));
      client.join("from-backend");
      client.connect();
      await joined;
      const res = await fetch(`${await chat.logicApiUrl()}/chatcluster.v1.ChatService/Publish`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${await chat.apiKey()}` },
        body: JSON.stringify({ room: "from-backend", body: { text: "hello from the backend" } }),
      });
      assert.equal(res.status, 200, await res.text());
      const m = await got;
      assert.equal(m.room, "from-backend");
      assert.deepEqual(m.body, { text: "hello from the backend" });
    } finally {
      client.close();
    }
  });

  test("kubectl scale chatcluster --replicas=3: the new gateway turns Ready and takes clients", async () => {
    await node.controlPlane.kubectl(["scale", `chatcluster/${NAME}`, "--replicas=3"]);
    await node.controlPlane.kubectl([
      "wait",
      `chatcluster/${NAME}`,
      "--for=jsonpath={.status.gateway.readyReplicas}=3",
      "--timeout=3m",
    ]);
    await node.controlPlane.kubectl(["wait", `chatcluster/${NAME}`, "--for=condition=Ready", "--timeout=1m"]);
    assert.deepEqual(names(await chat.pods("gateway")), [
      `${NAME}-gateway-0`,
      `${NAME}-gateway-1`,
      `${NAME}-gateway-2`,
    ]);
    const driver = await load("scaled", { clients: 30, rooms: 2, ratePerSecond: 20 });
    const spread = await gatewayConnections();
    assert.ok(
      (spread.get(`${NAME}-gateway-2`) ?? 0) > 0,
      `the new gateway has clients: ${JSON.stringify([...spread])}`,
    );
    driver.close();
  });

  test("under steady load, a rollout restart of logic drops no client and loses no acked message", async (t) => {
    const gatewaysBefore = uids(await chat.pods("gateway"));
    const logicBefore = names(await chat.pods("logic"));
    const driver = await load("logic-roll", LOAD);
    driver.start();
    await sleep(3000);
    await node.controlPlane.kubectl(["rollout", "restart", `deployment/${NAME}-logic`]);
    await node.controlPlane.kubectl(["rollout", "status", `deployment/${NAME}-logic`, "--timeout=3m"]);
    await sleep(3000);
    await driver.stop();
    const r = driver.verify();
    t.diagnostic(
      `logic roll: ${r.acked} acked, ${r.retryableErrors} retried, errors ${JSON.stringify(r.errorCodes)}`,
    );
    const logicAfter = names(await chat.pods("logic"));
    assert.equal(logicAfter.length, 2);
    assert.ok(
      logicAfter.every((n) => !logicBefore.includes(n)),
      "every logic pod was replaced",
    );
    assert.deepEqual(uids(await chat.pods("gateway")), gatewaysBefore, "no gateway pod was touched");
    assertNothingLost(r, "logic rollout");
    assert.equal(r.disconnects, 0, "no client was disconnected");
    driver.close();
  });

  test("under steady load, a logic image change rolls logic only: no client disconnected, nothing acked lost", async (t) => {
    const cp = node.controlPlane;
    // Another tag of the same image, as a new build of the logic tier would be.
    const current = builtImage();
    const next = `${current}-logic2`;
    node.containerd.tagImage(current, next);
    const gatewaysBefore = await chat.pods("gateway");
    const logicBefore = names(await chat.pods("logic"));
    const driver = await load("logic-image", LOAD);
    driver.start();
    await sleep(3000);
    const started = Date.now();
    const tag = next.slice(next.lastIndexOf(":") + 1);
    await cp.kubectl([
      "patch",
      `chatcluster/${NAME}`,
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { logic: { image: { tag } } } }),
    ]);
    await cp.kubectl([
      "wait",
      `chatcluster/${NAME}`,
      `--for=jsonpath={.status.logic.image}=${next}`,
      "--timeout=1m",
    ]);
    await waitFor(
      "two Ready logic pods on the new image, the old ones gone",
      async () => {
        const pods = await chat.pods("logic", { terminating: true });
        const done =
          pods.length === 2 &&
          pods.every((p) => p.spec?.containers[0]?.image === next && ChatClusterOnNode.ready(p));
        return done ? true : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    await cp.kubectl([
      "wait",
      `chatcluster/${NAME}`,
      '--for=jsonpath={.status.conditions[?(@.type=="Progressing")].reason}=RolloutComplete',
      "--timeout=1m",
    ]);
    t.diagnostic(`logic rolled to ${next} in ${Date.now() - started} ms`);
    await sleep(3000);
    await driver.stop();
    const r = driver.verify();
    const logicAfter = await chat.pods("logic");
    assert.equal(logicAfter.length, 2);
    assert.ok(
      names(logicAfter).every((n) => !logicBefore.includes(n)),
      "every logic pod was replaced",
    );
    assert.deepEqual(
      logicAfter.map((p) => p.spec?.containers[0]?.image),
      [next, next],
    );
    const gatewaysAfter = await chat.pods("gateway");
    assert.deepEqual(uids(gatewaysAfter), uids(gatewaysBefore), "no gateway pod was touched");
    assert.ok(gatewaysAfter.every((p) => p.spec?.containers[0]?.image === current));
    assertNothingLost(r, "logic image change");
    assert.equal(r.disconnects, 0, "no client was disconnected");
    driver.close();
  });

  test("under steady load, kubectl delete pod of a gateway drains it: its clients move, nothing acked is lost", async (t) => {
    const victim = `${NAME}-gateway-1`;
    const driver = await load("gateway-delete", LOAD);
    const before = await gatewayConnections();
    const onVictim = before.get(victim) ?? 0;
    assert.ok(onVictim > 0, `${victim} has clients to move`);
    const oldUid = (await chat.pods("gateway")).find((p) => p.metadata?.name === victim)?.metadata?.uid;
    driver.start();
    await sleep(2000);
    const started = Date.now();
    await node.controlPlane.kubectl(["delete", "pod", victim, "--wait=false"]);
    await waitFor(
      `${victim} replaced and Ready`,
      async () => {
        const pod = (await chat.pods("gateway")).find((p) => p.metadata?.name === victim);
        return pod !== undefined && pod.metadata?.uid !== oldUid && ChatClusterOnNode.ready(pod)
          ? true
          : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    t.diagnostic(`${victim} drained ${onVictim} clients and came back in ${Date.now() - started} ms`);
    await sleep(2000);
    await driver.stop();
    const r = driver.verify();
    assertNothingLost(r, "gateway delete");
    assert.ok(
      r.disconnects >= onVictim,
      `the ${onVictim} clients of ${victim} reconnected (${r.disconnects})`,
    );
    await everyClientConnected(`${NAME}-gateway-0`, `${NAME}-gateway-1`, `${NAME}-gateway-2`);
    driver.close();
  });

  test("under steady load, a scale-down from 3 to 1 removes one drained gateway at a time, highest first; nothing acked is lost", async (t) => {
    const driver = await load("scale-down", LOAD);
    const before = await gatewayConnections();
    for (const g of [`${NAME}-gateway-1`, `${NAME}-gateway-2`])
      assert.ok((before.get(g) ?? 0) > 0, `${g} has clients to move`);
    driver.start();
    await sleep(2000);
    // When each pod started terminating and when it was gone, polled from the API.
    const terminating = new Map<string, number>();
    const gone = new Map<string, number>();
    const started = Date.now();
    await node.controlPlane.kubectl(["scale", `chatcluster/${NAME}`, "--replicas=1"]);
    await waitFor(
      "gateway-1 and gateway-2 drained and gone",
      async () => {
        const pods = await chat.pods("gateway", { terminating: true });
        const now = Date.now();
        for (const p of pods) {
          const name = p.metadata?.name ?? "";
          if (p.metadata?.deletionTimestamp !== undefined && !terminating.has(name))
            terminating.set(name, now);
        }
        for (const g of [`${NAME}-gateway-1`, `${NAME}-gateway-2`]) {
          if (!names(pods).includes(g) && !gone.has(g)) gone.set(g, now);
        }
        return gone.size === 2 ? true : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 250 },
    );
    t.diagnostic(
      `3 -> 1 in ${Date.now() - started} ms: ${JSON.stringify([...terminating].map(([n, at]) => [n, at - started]))}`,
    );
    const two = terminating.get(`${NAME}-gateway-2`) ?? Number.NaN;
    const one = terminating.get(`${NAME}-gateway-1`) ?? Number.NaN;
    assert.ok(two < one, "the highest ordinal goes first");
    assert.ok(
      (gone.get(`${NAME}-gateway-2`) ?? Number.NaN) <= one,
      "the next gateway goes only once the first is gone",
    );
    assert.ok(!terminating.has(`${NAME}-gateway-0`));
    await node.controlPlane.kubectl(["wait", `chatcluster/${NAME}`, "--for=condition=Ready", "--timeout=1m"]);
    await sleep(2000);
    await driver.stop();
    const r = driver.verify();
    assertNothingLost(r, "scale-down");
    await everyClientConnected(`${NAME}-gateway-0`);
    driver.close();
  });

  test("a real Prometheus scrapes the pods; the dashboards' main queries return data", async () => {
    assert.ok(prom);
    const p = prom;
    const scalar = async (expr: string) => Number((await p.query(expr))[0]?.value[1] ?? Number.NaN);
    await waitFor(
      "every ChatCluster pod scraped",
      async () => ((await scalar("sum(up)")) === 1 + 2 + 2 ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    assert.equal(await scalar(`count(chatcluster_build_info{chatcluster="${NAME}",component="gateway"})`), 1);
    assert.equal(await scalar(`count(chatcluster_build_info{chatcluster="${NAME}",component="logic"})`), 2);
    assert.equal(await scalar('sum(chatcluster_operator_leader{component="operator"})'), 1);
    assert.equal(await scalar(`sum(chatcluster_logic_discovery_endpoints{chatcluster="${NAME}"})`), 2 * 1);
    assert.equal(
      await scalar(`max(chatcluster_operator_cluster_condition{chatcluster="${NAME}",condition="Ready"})`),
      1,
      "the operator's per-cluster Ready condition, labelled with the ChatCluster",
    );
    // Every query of the overview dashboard, and the operator's and the push streams' main ones.
    const also = ["Leader", "Push streams from logic", "Push streams and discovered gateways"];
    const panels = DASHBOARDS.flatMap((d) =>
      d.panels
        .filter((panel) => d.uid === "chatcluster-overview" || also.includes(panel.title))
        .map((panel) => ({ where: `${d.title} / ${panel.title}`, panel })),
    );
    for (const title of also)
      assert.ok(
        panels.some((x) => x.panel.title === title),
        `no panel "${title}"`,
      );
    const vars = { $__rate_interval: "5m", $namespace: ".*", $chatcluster: NAME };
    const empty: string[] = [];
    for (const { where, panel } of panels) {
      for (const target of panel.targets) {
        let expr = target.expr;
        for (const [k, v] of Object.entries(vars)) expr = expr.split(k).join(v);
        const result = await p.query(expr);
        if (!result.some((x) => Number.isFinite(Number(x.value[1])))) empty.push(`${where}: ${expr}`);
      }
    }
    assert.deepEqual(empty, []);
    assert.ok((await scalar(`sum(rate(chatcluster_logic_events_total{kind="send",result="ok"}[5m]))`)) > 0);
  });

  test("helm uninstall leaves only what docs/install.md says stays; removing everything then works", async () => {
    const cp = node.controlPlane;
    const gateways = uids(await chat.pods("gateway"));
    await helm(node, ["uninstall", QUICK_START.release, "-n", RELEASE_NS, "--wait"]);
    // Gone: the operator, its RBAC, its leader Lease, dashboards. Kubernetes' own objects of every namespace stay.
    const namespaced = (await cp.kubectl(["api-resources", "--verbs=list", "--namespaced", "-o", "name"]))
      .split("\n")
      .filter((r) => r !== "" && !r.startsWith("events"));
    // Helm deletes the Deployment with background propagation: its pods terminate
    // gracefully (the operator releases its Lease) for a few seconds after `--wait` returns.
    let left: string[] = [];
    await waitFor(
      `nothing of the release left in ${RELEASE_NS}`,
      async () => {
        left = (await cp.kubectl(["get", namespaced.join(","), "-n", RELEASE_NS, "-o", "name"]))
          .split("\n")
          .filter((l) => l !== "" && !["configmap/kube-root-ca.crt", "serviceaccount/default"].includes(l));
        return left.length === 0 ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; left: ${left.join(", ")}`);
    });
    const clusterWide = await cp.kubectl(["get", "clusterroles,clusterrolebindings", "-o", "name"]);
    assert.deepEqual(
      clusterWide.split("\n").filter((l) => l.includes("chatcluster")),
      [],
    );
    // Stays: the CRD, the ChatCluster and its workloads, still serving clients.
    await cp.kubectl(["get", "crd", "chatclusters.chatcluster.io"]);
    await cp.kubectl(["get", "chatcluster", NAME]);
    assert.deepEqual(uids(await chat.pods("gateway")), gateways, "no gateway pod was touched");
    const client = new ChatClient({
      url: await chat.gatewayUrl(),
      token: () => chat.token("after-uninstall"),
    });
    try {
      client.connect();
      const ack = await client.send("after-uninstall", { text: "still here" });
      assert.equal(ack.seq, 1);
    } finally {
      client.close();
    }

    // "To remove everything" of docs/install.md.
    await cp.kubectl(["delete", "chatclusters", "--all", "--all-namespaces", "--wait=true", "--timeout=3m"]);
    await waitFor(
      "the ChatCluster's pods gone",
      async () =>
        (await chat.pods("gateway", { terminating: true })).length +
          (await chat.pods("logic", { terminating: true })).length ===
        0
          ? true
          : undefined,
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    const children = await cp.kubectl([
      "get",
      "statefulsets,deployments,services,configmaps,secrets,poddisruptionbudgets,serviceaccounts,roles,rolebindings",
      "-n",
      QUICK_START.namespace,
      "-l",
      `app.kubernetes.io/instance=${NAME}`,
      "-o",
      "name",
    ]);
    assert.equal(children.trim(), "", "the ChatCluster's children went with it");
    await cp.kubectl(["delete", "crd", "chatclusters.chatcluster.io", "--wait=true"]);
  });
});
