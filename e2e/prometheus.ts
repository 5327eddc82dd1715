// A real Prometheus (Debian's) on this machine scraping ChatCluster's pods over
// the pod network. Debian builds Prometheus without Kubernetes service
// discovery, so a small HTTP service discovery endpoint in the test process
// lists the pods from the node's API server on every refresh and hands them
// over with the same `__meta_kubernetes_pod_*` labels Kubernetes discovery
// would; Prometheus then relabels them as the monitors do: gateways and logic
// as a ChatCluster's ServiceMonitor (operator/src/desired/service-monitor.ts),
// the operator as the chart's PodMonitor (honouring the `chatcluster` label of
// its per-cluster metrics).
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { METRICS_RELABELINGS } from "../operator/src/desired/service-monitor.ts";
import type { ControlPlane } from "../testenv/harness/controlplane.ts";
import { type ManagedProcess, startProcess } from "../testenv/harness/proc.ts";
import { freePort, request, waitFor } from "../testenv/harness/util.ts";

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Prometheus {
  readonly url: string;
  query(expr: string): Promise<PromSample[]>;
  stop(): Promise<void>;
}

/** How Kubernetes discovery names a pod label: `__meta_kubernetes_pod_label_<label, non-word characters as _>`. */
const podLabel = (label: string) => `__meta_kubernetes_pod_label_${label.replace(/[^A-Za-z0-9_]/g, "_")}`;

/** One target per container port named "metrics" of a running pod, labelled as Kubernetes discovery labels it. */
function targetsOf(pods: readonly V1Pod[]): { targets: string[]; labels: Record<string, string> }[] {
  const out: { targets: string[]; labels: Record<string, string> }[] = [];
  for (const pod of pods) {
    const ip = pod.status?.podIP;
    if (pod.status?.phase !== "Running" || ip === undefined) continue;
    for (const container of pod.spec?.containers ?? []) {
      for (const port of container.ports ?? []) {
        if (port.name !== "metrics") continue;
        const labels: Record<string, string> = {
          __meta_kubernetes_namespace: pod.metadata?.namespace ?? "",
          __meta_kubernetes_pod_name: pod.metadata?.name ?? "",
          __meta_kubernetes_pod_container_port_name: port.name,
        };
        for (const [k, v] of Object.entries(pod.metadata?.labels ?? {})) labels[podLabel(k)] = v;
        out.push({ targets: [`${ip}:${port.containerPort}`], labels });
      }
    }
  }
  return out;
}

/** GET /targets/<job>: the pods of that job (workloads: gateway and logic; operator). */
const JOB_SELECTORS: Record<string, string> = {
  workloads: "app.kubernetes.io/name=chatcluster,app.kubernetes.io/component in (gateway,logic)",
  operator: "app.kubernetes.io/name=chatcluster,app.kubernetes.io/component=operator",
};

async function startDiscovery(cp: ControlPlane): Promise<Server> {
  const core = cp.kubeConfig.makeApiClient(CoreV1Api);
  const server = createServer((req, res) => {
    const labelSelector = JOB_SELECTORS[(req.url ?? "").replace(/^\/targets\//, "")];
    if (labelSelector === undefined) {
      res.writeHead(404).end();
      return;
    }
    core.listPodForAllNamespaces({ labelSelector }).then(
      (list) =>
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(targetsOf(list.items))),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

export async function startPrometheus(cp: ControlPlane, dir: string, logsDir: string): Promise<Prometheus> {
  mkdirSync(dir, { recursive: true });
  const discovery = await startDiscovery(cp);
  const sdPort = (discovery.address() as AddressInfo).port;
  const config = {
    global: { scrape_interval: "2s", evaluation_interval: "2s" },
    scrape_configs: ["workloads", "operator"].map((job) => ({
      job_name: `chatcluster-${job}`,
      honor_labels: job === "operator",
      http_sd_configs: [{ url: `http://127.0.0.1:${sdPort}/targets/${job}`, refresh_interval: "2s" }],
      relabel_configs: [
        { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
        { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
        ...METRICS_RELABELINGS.map((r) => ({ source_labels: r.sourceLabels, target_label: r.targetLabel })),
      ],
    })),
  };
  const configPath = join(dir, "prometheus.yml");
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc: ManagedProcess = startProcess({
    name: "prometheus",
    command: "prometheus",
    args: [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, "tsdb")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    logPath: join(logsDir, "prometheus.log"),
  });
  await waitFor(
    "Prometheus ready",
    async () => ((await request(`${url}/-/ready`)).status === 200 ? true : undefined),
    {
      timeoutMs: 60_000,
      intervalMs: 250,
      watch: [proc],
    },
  );
  return {
    url,
    async query(expr: string): Promise<PromSample[]> {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; error?: string; data?: { result: PromSample[] } };
      if (body.status !== "success") throw new Error(`query failed: ${body.error}: ${expr}`);
      return body.data?.result ?? [];
    },
    async stop() {
      await proc.stop();
      await new Promise((resolve) => discovery.close(resolve));
    },
  };
}
