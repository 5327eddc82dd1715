// A real Kubernetes control plane on loopback: etcd + kube-apiserver, and with
// { kwok: true } also kube-controller-manager, kube-scheduler and kwok with one
// fake Node, so workloads get scheduled, Ready pods with IPs and EndpointSlices.
// Flags follow controller-runtime's envtest (RBAC, service-account keys,
// service cluster IP range, allow-privileged).
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, KubeConfig, type V1Node } from "@kubernetes/client-node";
import { apiserverArgs, SERVICE_CIDR } from "./apiserver-args.ts";
import { adminKubeconfig, generateCerts } from "./certs.ts";
import { withPodDeleteAfterFinalizers } from "./kwok-stages.ts";
import { binaryPath, shareDir } from "./paths.ts";
import { type ManagedProcess, startProcess } from "./proc.ts";
import { freePorts, keepLogs, request, StartupError, waitFor } from "./util.ts";

const execFileAsync = promisify(execFile);

export interface ControlPlaneOptions {
  /** Names the temp dir and the artifacts dir (test-artifacts/testenv/<name>/). */
  name?: string;
  /** Also run kube-controller-manager, kube-scheduler and kwok with one fake Node. */
  kwok?: boolean;
  /** Run kube-controller-manager and kube-scheduler (implied by kwok). */
  controllers?: boolean;
  /**
   * The address kube-apiserver binds to and advertises (default 127.0.0.1). A
   * non-loopback address (the real node's bridge) makes the API reachable from
   * pods: the `kubernetes` Service's endpoint is kept by the lease reconciler.
   */
  address?: string;
  /** Use this directory for state instead of a fresh temp dir (kept on stop). */
  dir?: string;
  /** Startup budget in ms (default 90 000). */
  timeoutMs?: number;
  /**
   * With { kwok: true }: a deleted pod that has finalizers stays Terminating
   * until they are removed, as with a real kubelet (kwok's fast pod-delete
   * stage strips them). A test holds a pod in Terminating with a finalizer of
   * its own and lets it go by removing it.
   */
  holdPodsWithFinalizers?: boolean;
}

export interface ControlPlane {
  readonly name: string;
  /** Kubeconfig file (admin, system:masters; credentials embedded). */
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** Loaded from kubeconfigPath. */
  readonly kubeConfig: KubeConfig;
  /** Component logs (<component>.log); copied to test-artifacts on a failed stop. */
  readonly logsDir: string;
  /** The temp (or state) directory holding pki, etcd data, logs. */
  readonly dir: string;
  /** etcd client URL (plain HTTP on loopback), e.g. for compaction in tests. */
  readonly etcdUrl: string;
  /** Name of the fake Node when started with { kwok: true }. */
  readonly nodeName: string | undefined;
  /** Process group ids of the components (used by cluster-up/down). */
  readonly pids: Readonly<Record<string, number>>;
  /** Runs `kubectl --kubeconfig <kubeconfigPath> ...args`, resolves with stdout. */
  kubectl(args: string[]): Promise<string>;
  /** Stops every component (no orphans). With { failed: true } logs go to test-artifacts. */
  stop(opts?: { failed?: boolean }): Promise<void>;
}

const POD_CIDR = "10.244.0.1/16";
export const FAKE_NODE_NAME = "kwok-node-0";

/** Starts a control plane; see ControlPlaneOptions. Retries once on a port collision. */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  try {
    return await startOnce(opts);
  } catch (err) {
    if (err instanceof StartupError && /address already in use/.test(err.message)) return startOnce(opts);
    throw err;
  }
}

async function startOnce(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const withKwok = opts.kwok === true;
  const withControllers = withKwok || opts.controllers === true;
  const address = opts.address ?? "127.0.0.1";
  const name = opts.name ?? "controlplane";
  // Resolve binaries first: a missing build fails before anything starts.
  const bins = {
    etcd: binaryPath("etcd"),
    apiserver: binaryPath("kube-apiserver"),
    kcm: withControllers ? binaryPath("kube-controller-manager") : "",
    scheduler: withControllers ? binaryPath("kube-scheduler") : "",
    kwok: withKwok ? binaryPath("kwok") : "",
  };
  const builtStagesPath = join(shareDir(), "kwok-stages.yaml");
  if (withKwok && !existsSync(builtStagesPath)) {
    throw new Error(`kwok stages not found at ${builtStagesPath}: run \`make testenv\``);
  }

  const ownDir = opts.dir === undefined;
  const dir =
    opts.dir ?? mkdtempSync(join(tmpdir(), `chatcluster-testenv-${name.replace(/[^A-Za-z0-9_-]+/g, "_")}-`));
  const logsDir = join(dir, "logs");
  const pkiDir = join(dir, "pki");
  for (const d of [logsDir, pkiDir]) mkdirSync(d, { recursive: true });
  let stagesPath = builtStagesPath;
  if (withKwok && opts.holdPodsWithFinalizers === true) {
    stagesPath = join(dir, "kwok-stages.yaml");
    writeFileSync(stagesPath, withPodDeleteAfterFinalizers(readFileSync(builtStagesPath, "utf8")));
  }

  const procs: ManagedProcess[] = [];
  const remaining = () => Math.max(1000, timeoutMs - (Date.now() - started));
  let stopped = false;

  const stopAll = async (): Promise<void> => {
    // Reverse start order: agents first, etcd last.
    const agents = procs.filter((p) => p.name !== "kube-apiserver" && p.name !== "etcd");
    await Promise.all(agents.map((p) => p.stop()));
    for (const n of ["kube-apiserver", "etcd"]) {
      for (const p of procs) if (p.name === n) await p.stop();
    }
  };

  const fail = async (err: unknown): Promise<never> => {
    await stopAll();
    const dest = keepLogs(logsDir, name);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    const msg = err instanceof Error ? err.message : String(err);
    const wrapped = new StartupError(`${msg}\ntestenv: control plane logs kept in ${dest}`);
    throw wrapped;
  };

  try {
    const [etcdPort, peerPort, apiPort, kcmPort, schedPort, kwokPort] = (await freePorts(6)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const certs = await generateCerts(pkiDir, address === "127.0.0.1" ? [] : [address]);

    // etcd
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const etcd = startProcess({
      name: "etcd",
      command: bins.etcd,
      args: [
        "--name=testenv",
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=testenv=${peerUrl}`,
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ],
      logPath: join(logsDir, "etcd.log"),
    });
    procs.push(etcd);
    await waitFor(
      "etcd /health",
      async () => {
        const r = await request(`${etcdUrl}/health`);
        return r.status === 200 && r.body.includes('"true"') ? true : undefined;
      },
      { timeoutMs: remaining(), watch: [etcd] },
    );

    // kube-apiserver
    const server = `https://${address}:${apiPort}`;
    const apiserver = startProcess({
      name: "kube-apiserver",
      command: bins.apiserver,
      args: apiserverArgs({ etcdUrl, address, apiPort, certs, certDir: pkiDir, withControllers }),
      logPath: join(logsDir, "kube-apiserver.log"),
    });
    procs.push(apiserver);
    const tls = {
      ca: readFileSync(certs.caCert),
      cert: readFileSync(certs.adminCert),
      key: readFileSync(certs.adminKey),
    };
    await waitFor(
      "kube-apiserver /readyz",
      async () => {
        const r = await request(`${server}/readyz`, { tls });
        if (r.status === 200) return true;
        throw new Error(
          `/readyz ${r.status}: ${r.body
            .split("\n")
            .filter((l) => l.includes("[-]"))
            .join(" ")}`,
        );
      },
      { timeoutMs: remaining(), intervalMs: 200, watch: [etcd, apiserver] },
    );

    const kubeconfigPath = join(dir, "kubeconfig");
    writeFileSync(kubeconfigPath, adminKubeconfig(server, certs), { mode: 0o600 });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);

    if (withControllers) {
      const common = [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
      ];
      const kcm = startProcess({
        name: "kube-controller-manager",
        command: bins.kcm,
        args: [
          ...common,
          `--secure-port=${kcmPort}`,
          `--cert-dir=${join(dir, "kcm")}`,
          `--service-account-private-key-file=${certs.saPrivateKey}`,
          `--root-ca-file=${certs.caCert}`,
          `--cluster-signing-cert-file=${certs.caCert}`,
          `--cluster-signing-key-file=${certs.caKey}`,
          `--service-cluster-ip-range=${SERVICE_CIDR}`,
          "--use-service-account-credentials=false",
        ],
        logPath: join(logsDir, "kube-controller-manager.log"),
      });
      procs.push(kcm);
      const scheduler = startProcess({
        name: "kube-scheduler",
        command: bins.scheduler,
        args: [...common, `--secure-port=${schedPort}`, `--cert-dir=${join(dir, "scheduler")}`],
        logPath: join(logsDir, "kube-scheduler.log"),
      });
      procs.push(scheduler);
    }

    if (withKwok) {
      const kwok = startProcess({
        name: "kwok",
        command: bins.kwok,
        args: [
          `--kubeconfig=${kubeconfigPath}`,
          `--config=${stagesPath}`,
          "--manage-all-nodes=false",
          "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
          "--manage-nodes-with-label-selector=",
          "--disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom",
          "--disregard-status-with-label-selector=",
          `--cidr=${POD_CIDR}`,
          "--node-ip=10.0.0.10",
          "--node-lease-duration-seconds=40",
          `--server-address=127.0.0.1:${kwokPort}`,
        ],
        // kwok reads ~/.kwok by default; keep it inside the temp dir.
        env: { ...process.env, HOME: dir },
        logPath: join(logsDir, "kwok.log"),
      });
      procs.push(kwok);
    }

    const core = kubeConfig.makeApiClient(CoreV1Api);
    if (withControllers) {
      for (const [what, port] of [
        ["kube-controller-manager", kcmPort],
        ["kube-scheduler", schedPort],
      ] as const) {
        await waitFor(
          `${what} /healthz`,
          async () => {
            const r = await request(`https://127.0.0.1:${port}/healthz`, {
              tls: { rejectUnauthorized: false },
            });
            return r.status === 200 ? true : undefined;
          },
          { timeoutMs: remaining(), intervalMs: 200, watch: procs },
        );
      }
    }

    if (withKwok) {
      const all = [...procs];
      await core.createNode({ body: fakeNode(FAKE_NODE_NAME) });
      // The NodeLifecycle controller removes node.kubernetes.io/not-ready (added
      // by TaintNodesByCondition on create) once kwok reports Ready.
      await waitFor(
        `node ${FAKE_NODE_NAME} Ready without the not-ready taint`,
        async () => {
          const node = await core.readNode({ name: FAKE_NODE_NAME });
          const ready =
            node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
          const tainted = (node.spec?.taints ?? []).some((t) => t.key.startsWith("node.kubernetes.io/"));
          return ready && !tainted ? true : undefined;
        },
        { timeoutMs: remaining(), intervalMs: 250, watch: all },
      );
    }
    if (withControllers) {
      await waitFor(
        "service account default/default",
        async () =>
          (await core.readNamespacedServiceAccount({ name: "default", namespace: "default" }))
            ? true
            : undefined,
        { timeoutMs: remaining(), intervalMs: 250, watch: procs },
      );
    }

    const pids: Record<string, number> = {};
    for (const p of procs) pids[p.name] = p.pid;

    return {
      name,
      kubeconfigPath,
      server,
      kubeConfig,
      logsDir,
      dir,
      etcdUrl,
      nodeName: withKwok ? FAKE_NODE_NAME : undefined,
      pids,
      async kubectl(args: string[]): Promise<string> {
        try {
          const { stdout } = await execFileAsync("kubectl", ["--kubeconfig", kubeconfigPath, ...args], {
            maxBuffer: 64 * 1024 * 1024,
          });
          return stdout;
        } catch (err) {
          const e = err as Error & { stderr?: string };
          throw new Error(`kubectl ${args.join(" ")} failed: ${(e.stderr ?? "").trim() || e.message}`);
        }
      },
      async stop(stopOpts: { failed?: boolean } = {}): Promise<void> {
        if (stopped) return;
        stopped = true;
        await stopAll();
        if (stopOpts.failed === true) {
          const dest = keepLogs(logsDir, name);
          console.error(`testenv: control plane logs for ${name} kept in ${dest}`);
        }
        if (ownDir && process.env.CHATCLUSTER_TESTENV_KEEP !== "1")
          rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    return fail(err);
  }
}

function fakeNode(name: string): V1Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node-role.kubernetes.io/agent": "",
        type: "kwok",
      },
    },
  };
}
