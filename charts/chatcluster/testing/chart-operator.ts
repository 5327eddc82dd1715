import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { V1Deployment } from "@kubernetes/client-node";
import { type ControlPlane, freePort } from "../../../testenv/harness/index.ts";
import { ROOT, waitFor } from "./helm.ts";

export interface ChartOperator {
  /** http://127.0.0.1:<port>: the ops server (/readyz, /metrics). */
  readonly url: string;
  /** The environment the chart gave the container, fieldRefs resolved. */
  readonly env: Readonly<Record<string, string>>;
  metrics(): Promise<string>;
  /** Resolves with the exit code when the process ends (e.g. after losing leadership). */
  readonly exited: Promise<number | null>;
  /** SIGTERM, as the kubelet sends; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

/** A kubeconfig that authenticates as a ServiceAccount, to prove its RBAC is enough. */
export async function serviceAccountKubeconfig(
  cp: ControlPlane,
  namespace: string,
  serviceAccount: string,
  path: string,
): Promise<string> {
  const token = (
    await cp.kubectl(["-n", namespace, "create", "token", serviceAccount, "--duration=1h"])
  ).trim();
  const cluster = cp.kubeConfig.getCurrentCluster();
  if (!cluster?.caData) throw new Error("the harness kubeconfig must embed the CA");
  await writeFile(
    path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: cp.server, "certificate-authority-data": cluster.caData } }],
      users: [{ name: "sa", user: { token } }],
      contexts: [{ name: "sa", context: { cluster: "c", user: "sa" } }],
      "current-context": "sa",
    }),
  );
  return path;
}

/**
 * kwok runs no containers, so this runs `bin/chatcluster` here with the
 * operator container's args and environment as the chart installed them
 * (read back from the Deployment), plus the ServiceAccount's credentials and
 * a loopback ops port. What the chart wires (workload image, lease, watch
 * namespace, timings, extra args) is what the process gets.
 */
export async function runChartOperator(
  cp: ControlPlane,
  opts: { namespace: string; deployment: string; kubeconfig: string; logDir: string },
): Promise<ChartOperator> {
  const dep = JSON.parse(
    await cp.kubectl(["-n", opts.namespace, "get", "deployment", opts.deployment, "-o", "json"]),
  ) as V1Deployment;
  const container = dep.spec?.template.spec?.containers[0];
  if (container === undefined) throw new Error(`deployment ${opts.deployment} has no container`);
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (e.value !== undefined) env[e.name] = e.value;
    else if (field === "metadata.name") env[e.name] = `${opts.deployment}-local`;
    else if (field === "metadata.namespace") env[e.name] = opts.namespace;
    else if (e.valueFrom !== undefined) throw new Error(`env ${e.name}: unsupported valueFrom`);
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = createWriteStream(join(opts.logDir, `${opts.deployment}-local.log`), { flags: "a" });
  const child = spawn(
    join(ROOT, "bin/chatcluster"),
    [...(container.args ?? []), `--kubeconfig=${opts.kubeconfig}`, `--ops-listen=127.0.0.1:${port}`],
    {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  live.add(child);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  await waitFor(`${opts.deployment} (local) ready at ${url}`, async () => {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}; log in ${opts.logDir}`);
    return (await fetch(`${url}/readyz`)).ok ? true : undefined;
  });
  return {
    url,
    env,
    exited,
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
