import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ChatClient } from "../client/src/index.ts";
import type { DevStack } from "../dev/dev-stack.ts";
import { startLoopbackStack } from "../dev/loopback-stack.ts";
import { crdsEstablished } from "../testenv/harness/crds-established.ts";
import {
  type ControlPlane,
  freePort,
  needsReal,
  startControlPlane,
  trackFailures,
} from "../testenv/harness/index.ts";
import { DASHBOARDS } from "./dashboards.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const RULES = join(ROOT, "charts/chatcluster/files/alerts.yaml");
/** What Grafana would substitute; a window long enough to hold every kind of observation made below. */
const GRAFANA_VARS: Record<string, string> = {
  $__rate_interval: "3m",
  $namespace: ".*",
  $chatcluster: ".*",
};

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

async function promQuery(base: string, query: string): Promise<PromResult[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: PromResult[] } };
  if (body.status !== "success") throw new Error(`query failed: ${body.error}: ${query}`);
  return body.data?.result ?? [];
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe("dashboards and alerts against a real Prometheus scraping the stack", {
  skip: needsReal("Prometheus and a control plane (make testenv system-packages)"),
}, () => {
  let cp: ControlPlane;
  let stack: DevStack;
  let dir: string;
  let operator: ChildProcess | undefined;
  let prometheus: ChildProcess | undefined;
  let prom = "";
  const failed = trackFailures();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "cc-prom-"));
    cp = await startControlPlane({ name: "monitoring" });
    await cp.kubectl(["apply", "--server-side", "-f", join(ROOT, "crds")]);
    await crdsEstablished((a) => cp.kubectl(a), ["chatclusters.chatcluster.io"]);
    const operatorPort = await freePort();
    operator = spawn(
      join(ROOT, "bin/chatcluster"),
      [
        "operator",
        `--kubeconfig=${cp.kubeconfigPath}`,
        "--lease-namespace=default",
        `--ops-listen=127.0.0.1:${operatorPort}`,
        "--log-level=warn",
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    );
    // With the example hooks service, so the hook panels have data too.
    stack = await startLoopbackStack({ dataDir: join(dir, "stack"), hooksExample: true }, () => {});

    const target = (address: string, labels: Record<string, string>) => ({ targets: [address], labels });
    const config = {
      global: { scrape_interval: "1s", evaluation_interval: "1s" },
      rule_files: [RULES],
      scrape_configs: [
        {
          job_name: "chatcluster",
          static_configs: stack.opsTargets.map((t) =>
            target(t.address, { namespace: "local", chatcluster: "dev", component: t.role, pod: t.name }),
          ),
        },
        {
          // As the chart's ServiceMonitor does: the per-ChatCluster series keep their own labels.
          job_name: "chatcluster-operator",
          honor_labels: true,
          static_configs: [
            target(`127.0.0.1:${operatorPort}`, {
              namespace: "local",
              chatcluster: "chatcluster",
              component: "operator",
              pod: "operator-0",
            }),
          ],
        },
      ],
    };
    await writeFile(join(dir, "prometheus.yml"), JSON.stringify(config));
    const port = await freePort();
    prom = `http://127.0.0.1:${port}`;
    try {
      prometheus = spawn(
        "prometheus",
        [
          `--config.file=${join(dir, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(dir, "tsdb")}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      prometheus.stderr?.resume();
    } catch {
      throw new Error("prometheus not found: run `make system-packages` (Debian's prometheus)");
    }
    prometheus.once("error", (err) => {
      throw new Error(`cannot start prometheus (${err.message}): run \`make system-packages\``);
    });
    await until("Prometheus ready", async () => ((await fetch(`${prom}/-/ready`)).ok ? true : undefined));
    // Traffic before the first scrape would be invisible to rate(): wait until every target was scraped.
    const targets = stack.opsTargets.length + 1;
    await until("every target scraped", async () => {
      const up = await promQuery(prom, "sum(up)");
      return Number(up[0]?.value[1] ?? 0) === targets ? true : undefined;
    });
  });

  after(async () => {
    prometheus?.kill("SIGTERM");
    operator?.kill("SIGTERM");
    await stack?.stop();
    await cp?.stop({ failed: failed() });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("every dashboard panel's queries return data after traffic, and every alert rule loads", async () => {
    // A ChatCluster for the operator to reconcile.
    await cp.kubectl([
      "create",
      "secret",
      "generic",
      "chat-auth",
      `--from-literal=secret=${"s".repeat(48)}`,
      "--from-literal=api-keys=k",
    ]);
    await cp.kubectl(["apply", "-f", join(ROOT, "docs/examples/chatcluster.yaml")]);

    // Traffic: clients on both gateways chat; a backend publishes and reads history; one bad token.
    const secret = (await readFile(join(dir, "stack/dev-api-key"), "utf8")).trim();
    const token = async (name: string) => {
      const res = await fetch(`${stack.webUrl}dev/token`, { method: "POST", body: JSON.stringify({ name }) });
      return ((await res.json()) as { token: string }).token;
    };
    const clients = await Promise.all(
      stack.gatewayUrls.map(async (url, i) => {
        const c = new ChatClient({ url, token: await token(`user${i}`) });
        c.connect();
        c.join("room-a");
        c.join("room-b");
        return c;
      }),
    );
    const bad = new ChatClient({ url: stack.gatewayUrls[0] as string, token: "not-a-jwt" });
    bad.connect();
    // Spread over a few seconds so several scrapes see the counters move.
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        clients.map((c, i) => c.send(i % 2 === 0 ? "room-a" : "room-b", { text: `m${round}` })),
      );
      await new Promise((r) => setTimeout(r, 200));
    }
    const api = stack.apiUrls[0] as string;
    for (const method of ["Publish", "History"]) {
      const res = await fetch(`${api}/chatcluster.v1.ChatService/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
        body: JSON.stringify(
          method === "Publish" ? { room: "room-a", body: { text: "from backend" } } : { room: "room-a" },
        ),
      });
      assert.equal(res.status, 200, `${method}: ${await res.text()}`);
    }
    bad.close();
    for (const c of clients) c.close();

    // Every query of every panel has at least one series with a number.
    const empty: string[] = [];
    const queries = DASHBOARDS.flatMap((d) =>
      d.panels.flatMap((p) => p.targets.map((t) => ({ where: `${d.title} / ${p.title}`, expr: t.expr }))),
    );
    await until(
      "every panel query to return data",
      async () => {
        empty.length = 0;
        for (const q of queries) {
          let expr = q.expr;
          for (const [k, v] of Object.entries(GRAFANA_VARS)) expr = expr.split(k).join(v);
          const result = await promQuery(prom, expr);
          if (!result.some((r) => Number.isFinite(Number(r.value[1])))) empty.push(`${q.where}: ${q.expr}`);
        }
        return empty.length === 0 ? true : undefined;
      },
      90_000,
    ).catch(() => {
      throw new Error(`panels without data:\n${empty.join("\n")}`);
    });

    // The dashboard variables resolve too.
    const namespaces = await promQuery(prom, "group by (namespace) (chatcluster_build_info)");
    assert.deepEqual(
      namespaces.map((r) => r.metric.namespace),
      ["local"],
    );
    const chatclusters = await promQuery(
      prom,
      'group by (chatcluster) (chatcluster_build_info{component=~"gateway|logic"})',
    );
    assert.deepEqual(
      chatclusters.map((r) => r.metric.chatcluster),
      ["dev"],
    );
    // The operator's per-ChatCluster series name the ChatCluster it reconciled, not the scrape target.
    const ready = await promQuery(prom, 'chatcluster_operator_cluster_condition{condition="Ready"}');
    assert.deepEqual(
      ready.map((r) => [r.metric.namespace, r.metric.chatcluster, r.metric.component]),
      [["default", "demo", "operator"]],
    );

    // Every rule loaded and evaluated without error.
    const rules = (await (await fetch(`${prom}/api/v1/rules`)).json()) as {
      data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    const expected = [...(await readFile(RULES, "utf8")).matchAll(/^\s+- alert: (\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(loaded.map((r) => r.name).sort(), [...expected].sort());
    await until("every rule evaluated", async () => {
      const again = (await (await fetch(`${prom}/api/v1/rules`)).json()) as typeof rules;
      const all = again.data.groups.flatMap((g) => g.rules);
      const bad = all.filter((r) => r.health !== "ok");
      return bad.length === 0 ? true : undefined;
    });
  });
});
