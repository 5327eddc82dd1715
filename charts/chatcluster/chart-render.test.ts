/**
 * The chart as the real helm renders it, without a cluster: lint, the values
 * schema and the checks values.schema.json cannot express, generated names,
 * the monitors' selectors and the CRD template. chart-install.test.ts installs
 * it on a real control plane.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type {
  KubernetesObject,
  V1CustomResourceDefinition,
  V1Deployment,
  V1PodDisruptionBudget,
  V1Service,
} from "@kubernetes/client-node";
import { needsReal } from "../../testenv/harness/index.ts";
import { CHART, find, helm, parseManifests, ROOT, template } from "./testing/helm.ts";
import { type Monitor, selects } from "./testing/selectors.ts";

const CI_VALUES = readdirSync(join(CHART, "ci"))
  .filter((f) => f.endsWith("-values.yaml"))
  .map((f) => join(CHART, "ci", f));
const MONITORING = ["--api-versions", "monitoring.coreos.com/v1"];

async function render(args: string[] = [], release = "chatcluster"): Promise<KubernetesObject[]> {
  return parseManifests(await template(release, args));
}

function operatorContainer(objects: KubernetesObject[]) {
  const dep = find<V1Deployment>(objects, "Deployment");
  const c = dep.spec?.template.spec?.containers[0];
  assert.ok(c);
  return c;
}

describe("helm chart (rendered)", { skip: needsReal("helm (make testenv)") }, () => {
  for (const values of [undefined, ...CI_VALUES]) {
    it(`helm lint --strict ${values ? values.slice(CHART.length + 1) : "(defaults)"}`, async () => {
      const out = await helm(["lint", "--strict", CHART, ...(values ? ["-f", values] : [])]);
      assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
  }

  it("refuses values the schema does not allow", async () => {
    await assert.rejects(template("x", ["--set", "rbac.scope=everywhere"]), /rbac.scope|scope/);
    await assert.rejects(template("x", ["--set", "operator.unknownKey=1"]), /additional properties/i);
  });

  it("refuses leader-election timings the operator would refuse, naming the values", async () => {
    const le = (lease: number, renew: number, retry: number) =>
      template("x", [
        "--set",
        `operator.leaderElection.leaseDurationSeconds=${lease},operator.leaderElection.renewDeadlineSeconds=${renew},operator.leaderElection.retryPeriodSeconds=${retry}`,
      ]);
    await assert.rejects(
      le(10, 10, 2),
      /renewDeadlineSeconds \(10\) must be shorter than leaseDurationSeconds \(10\)/,
    );
    await assert.rejects(le(10, 15, 2), /renewDeadlineSeconds \(15\) must be shorter/);
    await assert.rejects(
      le(15, 10, 9),
      /retryPeriodSeconds \(9\) must be shorter than renewDeadlineSeconds \/ 1.2/,
    );
    // 10 > 1.2 x 8 = 9.6 holds; the operator's own check agrees (operator/src/config.ts).
    const ok = parseManifests(await le(30, 10, 8));
    const env = new Map(operatorContainer(ok).env?.map((e) => [e.name, e.value]));
    assert.deepEqual(
      ["CHATCLUSTER_LEASE_DURATION", "CHATCLUSTER_RENEW_DEADLINE", "CHATCLUSTER_RETRY_PERIOD"].map((n) =>
        env.get(n),
      ),
      ["30s", "10s", "8s"],
    );
    // Off: the timings are not used.
    await template("x", ["--set", "operator.replicas=1,operator.leaderElection.enabled=false"]);
    await assert.rejects(
      template("x", ["--set", "operator.replicas=2,operator.leaderElection.enabled=false"]),
      /replicas/,
      "two operators without leader election would both reconcile",
    );
  });

  it("accepts minAvailable as a percentage and refuses one that blocks every drain", async () => {
    const pdb = find<V1PodDisruptionBudget>(
      await render(["--set-string", "operator.podDisruptionBudget.minAvailable=50%"]),
      "PodDisruptionBudget",
    );
    assert.equal(pdb.spec?.minAvailable, "50%");
    assert.equal(find<V1PodDisruptionBudget>(await render(), "PodDisruptionBudget").spec?.minAvailable, 1);
    await assert.rejects(
      template("x", ["--set", "operator.podDisruptionBudget.minAvailable=2"]),
      /minAvailable \(2\) must be below operator.replicas \(2\)/,
    );
    await assert.rejects(
      template("x", ["--set-string", "operator.podDisruptionBudget.minAvailable=150%"]),
      /minAvailable/,
    );
  });

  it("accepts ephemeral-storage and refuses a misspelt resource", async () => {
    const c = operatorContainer(
      await render([
        "--set",
        "operator.resources.requests.ephemeral-storage=64Mi,operator.resources.limits.ephemeral-storage=256Mi",
      ]),
    );
    assert.equal(c.resources?.requests?.["ephemeral-storage"], "64Mi");
    assert.equal(c.resources?.limits?.["ephemeral-storage"], "256Mi");
    await assert.rejects(template("x", ["--set", "operator.resources.limits.memroy=1Gi"]), /memroy/);
    await assert.rejects(template("x", ["--set", "operator.resources.limits.memory=lots"]), /memory/);
  });

  it("merges podLabels with the chart's labels into one key each, and refuses a selector label", async () => {
    const text = await template("x", [
      "--set",
      "operator.podLabels.team=chat,operator.podLabels.app\\.kubernetes\\.io/part-of=platform",
      "--set",
      "operator.podAnnotations.kubectl\\.kubernetes\\.io/default-container=operator",
    ]);
    // js-yaml refuses a duplicated key, as the API server does.
    const labels = find<V1Deployment>(parseManifests(text), "Deployment").spec?.template.metadata?.labels;
    assert.equal(labels?.team, "chat");
    assert.equal(labels?.["app.kubernetes.io/part-of"], "platform");
    assert.equal(labels?.["app.kubernetes.io/component"], "operator");
    for (const key of [
      "app.kubernetes.io/component",
      "app.kubernetes.io/instance",
      "app.kubernetes.io/name",
    ]) {
      await assert.rejects(
        template("x", ["--set", `operator.podLabels.${key.replaceAll(".", "\\.")}=mine`]),
        /podLabels/,
        `${key} is a selector label`,
      );
    }
  });

  it("renders securityContext, extraEnv, extraArgs, topologySpreadConstraints and the workload image", async () => {
    const rendered = await render([
      "--set",
      "image.repository=registry.example.com/chatcluster,image.tag=1.2.3,workloadImage.tag=1.2.2",
      "--set",
      "operator.securityContext.readOnlyRootFilesystem=true,operator.securityContext.runAsUser=1001",
      "--set",
      "operator.extraEnv[0].name=NODE_OPTIONS,operator.extraEnv[0].value=--max-old-space-size=200",
      "--set",
      "operator.extraArgs[0]=--discovery-interval=30s",
      "--set",
      "operator.topologySpreadConstraints[0].maxSkew=1,operator.topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone,operator.topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
    ]);
    const dep = find<V1Deployment>(rendered, "Deployment");
    const c = operatorContainer(rendered);
    assert.equal(c.image, "registry.example.com/chatcluster:1.2.3");
    const env = new Map(c.env?.map((e) => [e.name, e.value]));
    assert.equal(env.get("CHATCLUSTER_WORKLOAD_IMAGE"), "registry.example.com/chatcluster:1.2.2");
    assert.equal(env.get("NODE_OPTIONS"), "--max-old-space-size=200");
    assert.deepEqual(c.args, ["operator", "--discovery-interval=30s"]);
    assert.equal(c.securityContext?.runAsUser, 1001);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ["ALL"], "defaults stay where not overridden");
    const spread = dep.spec?.template.spec?.topologySpreadConstraints?.[0];
    assert.equal(spread?.topologyKey, "topology.kubernetes.io/zone");
    assert.ok(spread?.labelSelector && selects(spread.labelSelector, dep.spec?.template.metadata?.labels));
    assert.equal(dep.spec?.template.spec?.securityContext?.runAsNonRoot, true);
    // By default the workloads run the operator's image.
    const defaults = new Map(operatorContainer(await render()).env?.map((e) => [e.name, e.value]));
    const appVersion = /^appVersion: "(.+)"$/m.exec(readFileSync(join(CHART, "Chart.yaml"), "utf8"))?.[1];
    assert.equal(defaults.get("CHATCLUSTER_WORKLOAD_IMAGE"), `ghcr.io/chatcluster/chatcluster:${appVersion}`);
  });

  it("refuses extraEnv that repeats a variable the chart sets (the schema's list is the chart's)", async () => {
    const chartEnv = (operatorContainer(await render()).env ?? []).map((e) => e.name).sort();
    const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8"));
    const refused = [...schema.properties.operator.properties.extraEnv.items.properties.name.not.enum].sort();
    assert.deepEqual(refused, chartEnv);
    await assert.rejects(
      template("x", [
        "--set",
        "operator.extraEnv[0].name=CHATCLUSTER_LOG_LEVEL,operator.extraEnv[0].value=debug",
      ]),
      /extraEnv/,
    );
  });

  it("fits every generated name in 63 characters for a 53-character release name", async () => {
    for (const release of ["a".repeat(53), `chatcluster-${"b".repeat(41)}`]) {
      assert.equal(release.length, 53);
      const objects = await render(["-f", join(CHART, "ci/monitoring-values.yaml"), ...MONITORING], release);
      const names = new Map<string, string>();
      for (const o of objects) {
        const name = o.metadata?.name ?? "";
        assert.ok(name.length <= 63, `${o.kind} ${name} has ${name.length} characters`);
        assert.match(name, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, `${o.kind} ${name}`);
        if (o.kind === "Service") assert.match(name, /^[a-z]([-a-z0-9]*[a-z0-9])?$/, "a DNS-1035 label");
        const key = `${o.kind}/${name}`;
        assert.ok(!names.has(key), `${key} rendered twice`);
        names.set(key, name);
        for (const [k, v] of Object.entries(o.metadata?.labels ?? {}))
          assert.ok(v.length <= 63, `${o.kind} ${name} label ${k}=${v}`);
      }
      const lease = find(objects, "Lease");
      const env = new Map(operatorContainer(objects).env?.map((e) => [e.name, e.value]));
      assert.equal(
        env.get("CHATCLUSTER_LEASE_NAME"),
        lease.metadata?.name,
        "the operator uses the chart's Lease",
      );
    }
  });

  it("scrapes only the operator from the chart's monitors, whatever nameOverride says", async () => {
    for (const extra of [[], ["--set", "nameOverride=chat"]]) {
      for (const kind of ["serviceMonitor", "podMonitor"]) {
        const objects = await render([...MONITORING, "--set", `monitoring.${kind}.enabled=true`, ...extra]);
        const monitor = find<Monitor>(objects, kind === "serviceMonitor" ? "ServiceMonitor" : "PodMonitor");
        const dep = find<V1Deployment>(objects, "Deployment");
        const service = find<V1Service>(objects, "Service");
        const selected =
          kind === "serviceMonitor" ? service.metadata?.labels : dep.spec?.template.metadata?.labels;
        assert.ok(
          selects(monitor.spec.selector, selected),
          `${kind} selects the operator ${extra.join(" ")}`,
        );
        assert.deepEqual(monitor.spec.namespaceSelector, { matchNames: ["default"] });
        // The labels the operator gives a ChatCluster's pods and Services (operator/src/desired/names.ts).
        for (const component of ["gateway", "logic"]) {
          const workload = {
            "app.kubernetes.io/name": "chatcluster",
            "app.kubernetes.io/instance": "chatcluster",
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/managed-by": "chatcluster-operator",
            "chatcluster.io/metrics": "true",
          };
          assert.ok(!selects(monitor.spec.selector, workload), `${kind} must not select ${component} pods`);
        }
      }
    }
    await assert.rejects(
      template("x", [
        ...MONITORING,
        "--set",
        "monitoring.serviceMonitor.enabled=true,monitoring.podMonitor.enabled=true",
      ]),
      /monitoring/,
      "both would scrape the operator twice",
    );
  });

  it("renders monitoring objects only when enabled and the monitoring API exists", async () => {
    const monitoring = join(CHART, "ci/monitoring-values.yaml");
    const withApi = await render(["-f", monitoring, ...MONITORING]);
    const kinds = (objects: KubernetesObject[]) => objects.map((o) => o.kind);
    assert.ok(kinds(withApi).includes("ServiceMonitor"));
    assert.ok(kinds(withApi).includes("PrometheusRule"));
    const sm = find<Monitor & { spec: { endpoints: Record<string, unknown>[] } }>(withApi, "ServiceMonitor");
    assert.equal(sm.spec.endpoints[0]?.honorLabels, true, "per-ChatCluster series keep their labels");
    const withoutApi = await render(["-f", monitoring]);
    assert.ok(!kinds(withoutApi).includes("ServiceMonitor"));
    assert.ok(!kinds(withoutApi).includes("PrometheusRule"));
    assert.ok(!kinds(await render(MONITORING)).includes("ServiceMonitor"), "off by default");
    const dashboards = withoutApi.filter((o) => o.metadata?.labels?.grafana_dashboard === "1");
    assert.equal(
      dashboards.length,
      readdirSync(join(CHART, "dashboards")).filter((f) => f.endsWith(".json")).length,
    );
  });

  it("points runbook_url at runbookBaseUrl when set, else at docs/alerts.md", async () => {
    type Rule = { alert: string; annotations: Record<string, string> };
    const rules = async (extra: string[]) => {
      const objects = await render([
        ...MONITORING,
        "--set",
        "monitoring.prometheusRule.enabled=true",
        ...extra,
      ]);
      const pr = find<KubernetesObject & { spec: { groups: { rules: Rule[] }[] } }>(
        objects,
        "PrometheusRule",
      );
      return pr.spec.groups.flatMap((g) => g.rules);
    };
    const base = "https://runbooks.example.com/chatcluster/alerts";
    const custom = await rules(["--set", `monitoring.prometheusRule.runbookBaseUrl=${base}/`]);
    assert.ok(custom.length >= 12);
    for (const r of custom) assert.equal(r.annotations.runbook_url, `${base}#${r.alert.toLowerCase()}`);
    for (const r of await rules([]))
      assert.equal(r.annotations.runbook_url, `docs/alerts.md#${r.alert.toLowerCase()}`);
    await assert.rejects(
      rules(["--set", "monitoring.prometheusRule.runbookBaseUrl=not a url"]),
      /runbookBaseUrl/,
    );
  });

  it("renders the CRD of crds/ with a keep policy, and leaves it out with crds.install=false", async () => {
    const [source] = parseManifests(
      readFileSync(join(ROOT, "crds/chatclusters.chatcluster.io.yaml"), "utf8"),
    ) as [V1CustomResourceDefinition];
    const crd = find<V1CustomResourceDefinition>(await render(), "CustomResourceDefinition");
    assert.equal(crd.metadata?.name, "chatclusters.chatcluster.io");
    assert.deepEqual(crd.spec, source.spec);
    assert.equal(crd.metadata?.annotations?.["helm.sh/resource-policy"], "keep");
    assert.equal(crd.metadata?.labels?.["app.kubernetes.io/managed-by"], "Helm");
    const notKept = find<V1CustomResourceDefinition>(
      await render(["--set", "crds.keep=false"]),
      "CustomResourceDefinition",
    );
    assert.equal(notKept.metadata?.annotations?.["helm.sh/resource-policy"], undefined);
    const without = await render(["--set", "crds.install=false"]);
    assert.ok(!without.some((o) => o.kind === "CustomResourceDefinition"));
  });

  it("owns the leader Lease and lets the operator only read and update that one", async () => {
    const objects = await render();
    const lease = find(objects, "Lease");
    assert.equal(lease.metadata?.name, "chatcluster-operator");
    const role = find<
      KubernetesObject & { rules: { resources: string[]; resourceNames?: string[]; verbs: string[] }[] }
    >(objects, "Role", "chatcluster-operator-leader-election");
    assert.deepEqual(role.rules, [
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        resourceNames: ["chatcluster-operator"],
        verbs: ["get", "update"],
      },
    ]);
    const off = await render(["--set", "operator.replicas=1,operator.leaderElection.enabled=false"]);
    assert.ok(!off.some((o) => o.kind === "Lease"));
  });

  it("limits its NetworkPolicy to the operator pods' metrics port, egress open (NATS); ChatCluster pods get theirs from the operator", async () => {
    assert.ok(!(await render()).some((o) => o.kind === "NetworkPolicy"), "off by default");
    const monitoring = {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
    };
    const objects = await render(["-f", join(CHART, "ci", "namespaced-values.yaml")]);
    const policies = objects.filter((o) => o.kind === "NetworkPolicy") as (KubernetesObject & {
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: unknown[];
        egress?: unknown[];
      };
    })[];
    assert.equal(policies.length, 1);
    const dep = find<V1Deployment>(objects, "Deployment");
    assert.deepEqual(policies[0]?.spec.podSelector.matchLabels, dep.spec?.selector.matchLabels);
    assert.deepEqual(policies[0]?.spec.ingress, [
      { ports: [{ port: "metrics", protocol: "TCP" }], from: [monitoring] },
    ]);
    // Egress stays open: the API server, and each ChatCluster's NATS for StoreDegraded.
    assert.deepEqual(policies[0]?.spec.policyTypes, ["Ingress"]);
    assert.equal(policies[0]?.spec.egress, undefined);
  });
});
