import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  binaryPath,
  type ControlPlane,
  startControlPlane,
  trackFailures,
} from "../../testenv/harness/index.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CHART = join(ROOT, "charts/chatcluster");
const CI_VALUES = readdirSync(join(CHART, "ci"))
  .filter((f) => f.endsWith("-values.yaml"))
  .map((f) => join(CHART, "ci", f));
const NS = "chatcluster-system";
const RELEASE = "chatcluster";

async function helm(args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(binaryPath("helm"), args, {
    env: { ...process.env, HELM_CACHE_HOME: join(tmpdir(), "cc-helm-cache"), ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Runs a command with stdin, resolving with stdout; rejects with stderr on a non-zero exit. */
function pipe(cmd: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`)),
    );
    child.stdin.end(input);
  });
}

/** helm template renders for an old Kubernetes unless told which; say the one the tests run. */
function template(args: string[]): Promise<string> {
  return helm(["template", "--kube-version", "v1.36.3", ...args]);
}

function kinds(manifests: string): string[] {
  return [...manifests.matchAll(/^kind: (\S+)$/gm)].map((m) => m[1] as string);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe("helm chart (static)", () => {
  for (const values of [undefined, ...CI_VALUES]) {
    it(`helm lint --strict ${values ? values.slice(CHART.length + 1) : "(defaults)"}`, async () => {
      const out = await helm(["lint", "--strict", CHART, ...(values ? ["-f", values] : [])]);
      assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
  }

  it("refuses values the schema does not allow", async () => {
    await assert.rejects(template(["x", CHART, "--set", "rbac.scope=everywhere"]), /rbac.scope|scope/);
    await assert.rejects(template(["x", CHART, "--set", "operator.unknownKey=1"]), /additional properties/i);
  });

  it("renders monitoring objects only when enabled and the monitoring API exists", async () => {
    const monitoring = join(CHART, "ci/monitoring-values.yaml");
    const withApi = await template([
      "x",
      CHART,
      "-f",
      monitoring,
      "--api-versions",
      "monitoring.coreos.com/v1",
    ]);
    assert.ok(kinds(withApi).includes("ServiceMonitor"));
    assert.ok(kinds(withApi).includes("PrometheusRule"));
    assert.match(withApi, /targetLabel: chatcluster/, "relabels the labels dashboards select by");
    assert.match(
      withApi,
      /alert: ChatClusterNoOperatorLeader/,
      "the PrometheusRule carries files/alerts.yaml",
    );
    const withoutApi = await template(["x", CHART, "-f", monitoring]);
    assert.ok(!kinds(withoutApi).includes("ServiceMonitor"));
    assert.ok(!kinds(withoutApi).includes("PrometheusRule"));
    const defaults = await template(["x", CHART, "--api-versions", "monitoring.coreos.com/v1"]);
    assert.ok(!kinds(defaults).includes("ServiceMonitor"), "off by default");
    // Dashboards are ConfigMaps with the sidecar's label.
    const dashboards = withoutApi.split("\n---").filter((d) => d.includes("grafana_dashboard:"));
    assert.equal(
      dashboards.length,
      readdirSync(join(CHART, "dashboards")).filter((f) => f.endsWith(".json")).length,
    );
  });

  it("renders a Role instead of a ClusterRole for a single-namespace install", async () => {
    const out = await template(["x", CHART, "-n", "team-a", "--set", "rbac.scope=namespace"]);
    assert.ok(!kinds(out).includes("ClusterRole"));
    assert.ok(kinds(out).includes("Role"));
    assert.match(out, /name: CHATCLUSTER_WATCH_NAMESPACE\n\s+value: "team-a"/);
  });
});

describe("helm chart against a real control plane", () => {
  let cp: ControlPlane;
  let dir: string;
  let operator: ChildProcess | undefined;
  const failed = trackFailures();

  before(async () => {
    cp = await startControlPlane({ name: "helm-chart", kwok: true });
    dir = await mkdtemp(join(tmpdir(), "cc-chart-"));
  });
  after(async () => {
    operator?.kill("SIGKILL");
    await cp?.stop({ failed: failed() });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const kube = () => ({ KUBECONFIG: cp.kubeconfigPath });

  it("every values file's output passes server-side dry run with strict field validation", async () => {
    await cp.kubectl(["create", "namespace", NS]);
    for (const values of [undefined, ...CI_VALUES]) {
      const manifests = await template([
        RELEASE,
        CHART,
        "-n",
        NS,
        "--include-crds",
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
    }
  });

  it("installs; the operator becomes Ready; a ChatCluster yields its StatefulSet and Deployment", async () => {
    const out = await helm(["install", RELEASE, CHART, "-n", NS, "--wait", "--timeout", "120s"], kube());
    assert.match(out, /STATUS: deployed/);
    assert.match(out, /kubectl apply -f/, "NOTES tell what to apply next");
    const ready = await cp.kubectl([
      "-n",
      NS,
      "get",
      "deployment/chatcluster-operator",
      "-o",
      "jsonpath={.status.readyReplicas}",
    ]);
    assert.equal(ready, "2");

    // kwok's pods run no containers, so run the operator here with the chart's
    // ServiceAccount token: this proves the chart's RBAC is enough.
    const token = (
      await cp.kubectl(["-n", NS, "create", "token", "chatcluster-operator", "--duration=1h"])
    ).trim();
    const kubeconfig = join(dir, "operator.kubeconfig");
    const cluster = cp.kubeConfig.getCurrentCluster();
    assert.ok(cluster?.caData, "the harness kubeconfig embeds the CA");
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          { name: "c", cluster: { server: cp.server, "certificate-authority-data": cluster.caData } },
        ],
        users: [{ name: "sa", user: { token } }],
        contexts: [{ name: "sa", context: { cluster: "c", user: "sa" } }],
        "current-context": "sa",
      }),
    );
    operator = spawn(
      join(ROOT, "bin/chatcluster"),
      [
        "operator",
        `--kubeconfig=${kubeconfig}`,
        `--lease-namespace=${NS}`,
        "--ops-listen=127.0.0.1:0",
        "--log-level=warn",
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    );

    // The Secret the example's header comment tells users to create.
    await cp.kubectl([
      "create",
      "secret",
      "generic",
      "chat-auth",
      `--from-literal=secret=${"s".repeat(48)}`,
      "--from-literal=api-keys=key-1",
    ]);
    await cp.kubectl(["apply", "-f", join(ROOT, "docs/examples/chatcluster.yaml")]);
    await waitFor(
      "the StatefulSet",
      async () =>
        (await cp.kubectl(["get", "statefulset", "demo-gateway", "-o", "name"]).catch(() => "")) || undefined,
    );
    await waitFor(
      "the Deployment",
      async () =>
        (await cp.kubectl(["get", "deployment", "demo-logic", "-o", "name"]).catch(() => "")) || undefined,
    );
  });

  it("upgrades in place and uninstalls leaving the CRD", async () => {
    const out = await helm(
      ["upgrade", RELEASE, CHART, "-n", NS, "--reuse-values", "--set", "operator.logLevel=debug", "--wait"],
      kube(),
    );
    assert.match(out, /REVISION: 2/);
    const env = await cp.kubectl([
      "-n",
      NS,
      "get",
      "deployment/chatcluster-operator",
      "-o",
      "jsonpath={.spec.template.spec.containers[0].env[?(@.name=='CHATCLUSTER_LOG_LEVEL')].value}",
    ]);
    assert.equal(env, "debug");

    await helm(["uninstall", RELEASE, "-n", NS, "--wait"], kube());
    const left = await cp.kubectl([
      "-n",
      NS,
      "get",
      "deployments,serviceaccounts",
      "-l",
      "app.kubernetes.io/instance=chatcluster",
      "-o",
      "name",
    ]);
    assert.equal(left.trim(), "");
    const crd = await cp.kubectl(["get", "crd", "chatclusters.chatcluster.io", "-o", "name"]);
    assert.equal(crd.trim(), "customresourcedefinition.apiextensions.k8s.io/chatclusters.chatcluster.io");
  });
});
