/**
 * The chart on a real control plane (kube-apiserver, controller-manager,
 * scheduler, kwok) with the real helm and kubectl: the install notes' commands
 * as a user runs them, one owner of scraping per pod, the helm test's check,
 * upgrade, a 53-character release name, and what uninstall removes and keeps.
 * kwok runs no containers, so the operator runs here as the chart configures it
 * (testing/chart-operator.ts) with the chart's ServiceAccount.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import type { V1Deployment, V1Pod, V1Secret, V1Service, V1StatefulSet } from "@kubernetes/client-node";
import { crdsEstablished } from "../../testenv/harness/crds-established.ts";
import {
  type ControlPlane,
  needsReal,
  startControlPlane,
  trackFailures,
} from "../../testenv/harness/index.ts";
import { type ChartOperator, runChartOperator, serviceAccountKubeconfig } from "./testing/chart-operator.ts";
import { CHART, find, helm, parseManifests, pipe, ROOT, template, waitFor } from "./testing/helm.ts";
import { monitoringCrds } from "./testing/monitoring-crds.ts";
import { type Monitor, scrapedPods } from "./testing/selectors.ts";

const run = promisify(execFile);
const CI_VALUES = readdirSync(join(CHART, "ci"))
  .filter((f) => f.endsWith("-values.yaml"))
  .map((f) => join(CHART, "ci", f));
const NS = "chatcluster-system";
const RELEASE = "chatcluster";
const IMAGE = "registry.example.com/chatcluster:9.9.9";

interface List<T> {
  items: T[];
}

describe("helm chart against a real control plane", {
  skip: needsReal("helm and a control plane (make testenv)"),
}, () => {
  let cp: ControlPlane;
  let dir: string;
  let operator: ChartOperator | undefined;
  const failed = trackFailures();
  const kube = () => ({ KUBECONFIG: cp.kubeconfigPath });
  const json = async <T>(args: string[]): Promise<T> =>
    JSON.parse(await cp.kubectl([...args, "-o", "json"])) as T;
  const conditionSeries = (metrics: string, name: string, condition: string) =>
    new RegExp(
      `^chatcluster_operator_cluster_condition\\{namespace="default",chatcluster="${name}",condition="${condition}"\\} (\\d)$`,
      "m",
    ).exec(metrics)?.[1];

  before(async () => {
    cp = await startControlPlane({ name: "helm-chart", kwok: true });
    dir = await mkdtemp(join(tmpdir(), "cc-chart-"));
    await pipe("kubectl", ["--kubeconfig", cp.kubeconfigPath, "apply", "-f", "-"], monitoringCrds());
    await crdsEstablished((a) => cp.kubectl(a), "all");
    await cp.kubectl(["create", "namespace", NS]);
  });
  after(async () => {
    await operator?.stop();
    await cp?.stop({ failed: failed() });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("every values file's output passes server-side dry run with strict field validation", async () => {
    for (const values of [undefined, ...CI_VALUES]) {
      const manifests = await template(RELEASE, [
        "-n",
        NS,
        "--api-versions",
        "monitoring.coreos.com/v1",
        ...(values ? ["-f", values] : []),
      ]);
      const out = await pipe(
        "kubectl",
        [
          "--kubeconfig",
          cp.kubeconfigPath,
          "apply",
          "-n",
          NS,
          "--server-side",
          "--dry-run=server",
          "--validate=strict",
          "-f",
          "-",
        ],
        manifests,
      );
      assert.match(out, /deployment.apps\/chatcluster-operator serverside-applied \(server dry run\)/);
      assert.match(out, /customresourcedefinition.apiextensions.k8s.io\/chatclusters.chatcluster.io/);
    }
  });

  it("installs, and the install notes' commands work as written", async () => {
    const [repository, tag] = IMAGE.split(/:(?=[^:]+$)/) as [string, string];
    const out = await helm(
      [
        "install",
        RELEASE,
        CHART,
        "-n",
        NS,
        "-f",
        join(CHART, "ci/monitoring-values.yaml"),
        "--set",
        `image.repository=${repository},image.tag=${tag}`,
        "--wait",
        "--timeout",
        "180s",
      ],
      kube(),
    );
    assert.match(out, /STATUS: deployed/);
    const lease = await json<{ metadata: { labels: Record<string, string> } }>([
      "-n",
      NS,
      "get",
      "lease",
      "chatcluster-operator",
    ]);
    assert.equal(lease.metadata.labels["app.kubernetes.io/managed-by"], "Helm", "the release owns its Lease");

    const notes = await helm(["get", "notes", RELEASE, "-n", NS], kube());
    assert.doesNotMatch(notes, /https?:\/\//, "no placeholder URLs");
    for (const [path] of notes.matchAll(/\bdocs\/[\w./-]+\.(md|yaml)\b/g))
      assert.ok(existsSync(join(ROOT, path)), `NOTES point at ${path}, which exists`);
    const commands = notes
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => /^(kubectl|helm) /.test(l));
    assert.ok(commands.length >= 6, `NOTES carry the quick start's commands:\n${notes}`);
    assert.ok(commands.includes(`helm test ${RELEASE} -n ${NS}`));

    // The operator as the chart configured it, with only the chart's RBAC.
    const kubeconfig = await serviceAccountKubeconfig(
      cp,
      NS,
      "chatcluster-operator",
      join(dir, "sa.kubeconfig"),
    );
    operator = await runChartOperator(cp, {
      namespace: NS,
      deployment: "chatcluster-operator",
      kubeconfig,
      logDir: dir,
    });
    assert.equal(operator.env.CHATCLUSTER_WORKLOAD_IMAGE, IMAGE);
    await waitFor("the operator to hold the chart's Lease (get and update are enough)", async () => {
      const l = await json<{ spec: { holderIdentity?: string } }>([
        "-n",
        NS,
        "get",
        "lease",
        "chatcluster-operator",
      ]);
      return l.spec.holderIdentity === "chatcluster-operator-local" ? true : undefined;
    });

    // As a user runs them: a shell, the repository as working directory, the cluster's kubeconfig.
    for (const command of commands) {
      // kwok runs no containers: the test hook's check is run by "helm test's check" below.
      if (command.startsWith("helm test ")) continue;
      await run("sh", ["-c", command], { cwd: ROOT, env: { ...process.env, ...kube() } }).catch((err) => {
        throw new Error(`${command}: ${(err as { stderr?: string }).stderr ?? err}`);
      });
    }

    const sts = await waitFor("3 gateways after the notes' scale command", async () => {
      const s = await json<V1StatefulSet>(["get", "statefulset", "demo-gateway"]);
      return s.spec?.replicas === 3 ? s : undefined;
    });
    assert.equal(sts.spec?.template.spec?.containers[0]?.image, IMAGE, "the example runs the chart's image");
    const logic = await json<V1Deployment>(["get", "deployment", "demo-logic"]);
    assert.equal(logic.spec?.template.spec?.containers[0]?.image, IMAGE);
    const secret = await json<V1Secret>(["get", "secret", "chat-auth"]);
    const refs = (logic.spec?.template.spec?.containers[0]?.env ?? []).flatMap((e) =>
      e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [],
    );
    assert.ok(
      refs.some((r) => r.name === "chat-auth"),
      "logic reads the Secret the notes create",
    );
    for (const ref of refs.filter((r) => r.name === "chat-auth"))
      assert.ok(
        Object.hasOwn(secret.data ?? {}, ref.key),
        `Secret chat-auth has the key ${ref.key} logic reads`,
      );
    // kwok makes the pods ready: the operator reports the ChatCluster Ready in its metrics.
    await waitFor("demo Ready in the operator's metrics", async () =>
      conditionSeries(await (operator as ChartOperator).metrics(), "demo", "Ready") === "1"
        ? true
        : undefined,
    );
  });

  it("scrapes every gateway, logic and operator pod exactly once, with either of the chart's monitors", async () => {
    const counts = async () => {
      const monitors = [
        ...(await json<List<Monitor>>(["get", "servicemonitors", "-A"])).items,
        ...(await json<List<Monitor>>(["get", "podmonitors", "-A"])).items,
      ];
      const services = (await json<List<V1Service>>(["get", "services", "-A"])).items;
      const pods = (await json<List<V1Pod>>(["get", "pods", "-A"])).items.filter((p) =>
        ["gateway", "logic", "operator"].includes(p.metadata?.labels?.["app.kubernetes.io/component"] ?? ""),
      );
      const by = new Map<string, string[]>(
        pods.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, []]),
      );
      for (const m of monitors)
        for (const pod of scrapedPods(m, services, pods)) by.get(pod)?.push(`${m.kind} ${m.metadata?.name}`);
      return by;
    };
    const check = async (what: string) => {
      const by = await waitFor(
        `${what}: 2 operators, 3 gateways, 2 logic pods, each scraped once`,
        async () => {
          const b = await counts();
          return b.size === 7 && [...b.values()].every((m) => m.length === 1) ? b : undefined;
        },
      ).catch(async (err) => {
        throw new Error(`${(err as Error).message}\n${JSON.stringify([...(await counts())], null, 1)}`);
      });
      return [...by.values()].flat();
    };
    // The ChatCluster's own ServiceMonitor (the example enables it) and the chart's.
    const withServiceMonitor = await check("chart ServiceMonitor");
    assert.ok(withServiceMonitor.includes("ServiceMonitor demo"));
    assert.ok(withServiceMonitor.includes("ServiceMonitor chatcluster-operator"));
    await helm(
      [
        "upgrade",
        RELEASE,
        CHART,
        "-n",
        NS,
        "--reuse-values",
        "--set",
        "monitoring.serviceMonitor.enabled=false,monitoring.podMonitor.enabled=true",
      ],
      kube(),
    );
    const withPodMonitor = await check("chart PodMonitor");
    assert.ok(withPodMonitor.includes("PodMonitor chatcluster-operator"));
  });

  it("drops a ChatCluster's status series when it is deleted", async () => {
    const manifest = readFileSync(join(ROOT, "docs/examples/chatcluster.yaml"), "utf8")
      .replace(/^ {2}name: demo$/m, "  name: brief")
      .replace(/replicas: 2 #/, "replicas: 1 #");
    await pipe("kubectl", ["--kubeconfig", cp.kubeconfigPath, "apply", "-f", "-"], manifest);
    const metrics = () => (operator as ChartOperator).metrics();
    await waitFor("brief's Ready series", async () =>
      conditionSeries(await metrics(), "brief", "Ready") !== undefined ? true : undefined,
    );
    await cp.kubectl(["delete", "chatcluster", "brief", "--wait"]);
    await waitFor("brief's series gone", async () => {
      const m = await metrics();
      return ["Ready", "Progressing", "Degraded"].every((c) => conditionSeries(m, "brief", c) === undefined)
        ? true
        : undefined;
    });
    assert.equal(conditionSeries(await metrics(), "demo", "Ready"), "1", "the other cluster's stay");
  });

  it("helm test's check passes against the operator and fails without one", async () => {
    const hooks = parseManifests(await helm(["get", "hooks", RELEASE, "-n", NS], kube()));
    const pod = find<V1Pod>(hooks, "Pod");
    assert.equal(pod.metadata?.annotations?.["helm.sh/hook"], "test");
    const c = pod.spec?.containers[0];
    const [node, ...args] = c?.command ?? [];
    assert.equal(node, "node");
    const url = c?.env?.find((e) => e.name === "OPERATOR_URL")?.value;
    assert.equal(url, `http://chatcluster-operator-metrics.${NS}.svc:9102`);
    const check = (operatorUrl: string) =>
      run(process.execPath, args, { env: { ...process.env, OPERATOR_URL: operatorUrl } });
    const ok = await check((operator as ChartOperator).url);
    assert.match(ok.stdout, /is ready/);
    await assert.rejects(check("http://127.0.0.1:1"), /operator check failed/);
    // The Service it calls exists and leads to the operator pods.
    const svc = await json<V1Service>(["-n", NS, "get", "service", "chatcluster-operator-metrics"]);
    assert.deepEqual(
      svc.spec?.ports?.map((p) => p.port),
      [9102],
    );
  });

  it("upgrades in place", async () => {
    const out = await helm(
      ["upgrade", RELEASE, CHART, "-n", NS, "--reuse-values", "--set", "operator.logLevel=debug", "--wait"],
      kube(),
    );
    assert.match(out, /STATUS: deployed/);
    const dep = await json<V1Deployment>(["-n", NS, "get", "deployment/chatcluster-operator"]);
    const env = dep.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === "CHATCLUSTER_LOG_LEVEL");
    assert.equal(env?.value, "debug");
  });

  it("installs a release with a 53-character name beside it (crds.install=false)", async () => {
    const release = `chat-${"x".repeat(48)}`;
    assert.equal(release.length, 53);
    const ns = "long-names";
    await cp.kubectl(["create", "namespace", ns]);
    const out = await helm(
      [
        "install",
        release,
        CHART,
        "-n",
        ns,
        "-f",
        join(CHART, "ci/monitoring-values.yaml"),
        "--set",
        "crds.install=false",
        "--wait",
        "--timeout",
        "180s",
      ],
      kube(),
    );
    assert.match(out, /STATUS: deployed/);
    const names = (
      await cp.kubectl([
        "-n",
        ns,
        "get",
        "deployments,services,serviceaccounts,leases,servicemonitors,roles,rolebindings,poddisruptionbudgets,configmaps",
        "-l",
        `app.kubernetes.io/instance=${release}`,
        "-o",
        "name",
      ])
    )
      .trim()
      .split("\n");
    assert.ok(names.length >= 12, names.join("\n"));
    for (const n of names) assert.ok(n.slice(n.indexOf("/") + 1).length <= 63, n);
    await helm(["uninstall", release, "-n", ns, "--wait"], kube());
  });

  it("uninstalls: the Lease goes and stays gone; the CRD and every ChatCluster stay", async () => {
    const running = operator as ChartOperator;
    // `kubectl auth can-i` prints yes or no, and exits 1 for no.
    const canI = (verb: string, resource: string) =>
      run("kubectl", [
        "--kubeconfig",
        cp.kubeconfigPath,
        "auth",
        "can-i",
        verb,
        resource,
        "-n",
        NS,
        `--as=system:serviceaccount:${NS}:chatcluster-operator`,
      ]).then(
        (r) => r.stdout.trim(),
        (err: { stdout?: string }) => (err.stdout ?? "").trim(),
      );
    assert.equal(await canI("update", "leases/chatcluster-operator"), "yes");
    assert.equal(await canI("create", "leases"), "no", "no operator can leave a Lease behind");
    await helm(["uninstall", RELEASE, "-n", NS, "--wait"], kube());
    // The operator kept running through the uninstall, as a pod may while it terminates: without
    // its Lease and its RBAC it cannot renew, gives up leadership within the renew deadline and
    // exits, and it was never allowed to create a Lease of its own.
    assert.equal(await running.exited, 1);
    operator = undefined;
    const leases = await cp.kubectl(["-n", NS, "get", "leases", "-o", "name"]);
    assert.equal(leases.trim(), "", "no Lease left behind");
    const left = await cp.kubectl([
      "-n",
      NS,
      "get",
      "deployments,serviceaccounts,services,roles,servicemonitors,podmonitors,prometheusrules,configmaps",
      "-l",
      "app.kubernetes.io/instance=chatcluster",
      "-o",
      "name",
    ]);
    assert.equal(left.trim(), "");
    assert.match(
      await cp.kubectl(["get", "crd", "chatclusters.chatcluster.io", "-o", "name"]),
      /chatclusters/,
    );
    assert.match(await cp.kubectl(["get", "chatcluster", "demo", "-o", "name"]), /demo/);
    assert.match(await cp.kubectl(["get", "statefulset", "demo-gateway", "-o", "name"]), /demo-gateway/);
  });
});
