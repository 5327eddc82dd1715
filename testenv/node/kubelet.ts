// kubelet for the real node, with the settings this machine kind needs (cgroup
// v1, no CAP_SYS_RESOURCE, a small disk) and the CNI network it hands pods.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { binaryPath } from "../harness/paths.ts";
import { type ManagedProcess, startProcess } from "../harness/proc.ts";
import { NODE_NETWORK } from "./network.ts";

export const NODE_NAME = "chatcluster-node";
/** kubelet's API port: fixed by the API server's view of a node, so one real node per machine. */
export const KUBELET_PORT = 10250;

export interface KubeletOptions {
  dir: string;
  logsDir: string;
  kubeconfigPath: string;
  caCert: string;
  containerdAddress: string;
  healthzPort: number;
}

/** bridge + host-local + portmap: one address per pod from the bridge's range, no masquerading. */
export function writeCniConfig(confDir: string, ipamDir: string): void {
  mkdirSync(confDir, { recursive: true });
  const n = NODE_NETWORK;
  const conflist = {
    cniVersion: "1.0.0",
    name: "chatcluster-node",
    plugins: [
      {
        type: "bridge",
        bridge: n.bridge,
        isGateway: true,
        // Pods talk to the machine and each other only; nothing to masquerade.
        ipMasq: false,
        // A pod reaching a Service that lands on itself (hairpin).
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: n.podCidr, gateway: n.nodeIp }]],
          routes: [{ dst: "0.0.0.0/0" }],
          dataDir: ipamDir,
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
  writeFileSync(join(confDir, "10-chatcluster-node.conflist"), JSON.stringify(conflist, null, 2));
}

function kubeletConfiguration(o: KubeletOptions, resolvConf: string): object {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address: NODE_NETWORK.nodeIp,
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: o.healthzPort,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: o.caCert },
    },
    authorization: { mode: "Webhook" },
    containerRuntimeEndpoint: `unix://${o.containerdAddress}`,
    // cgroup v1 (hybrid) without systemd: kubelet 1.36 refuses v1 unless told.
    failCgroupV1: false,
    cgroupDriver: "cgroupfs",
    failSwapOn: false,
    // runc cannot set a negative oom_score_adj here (no CAP_SYS_RESOURCE).
    oomScoreAdj: 0,
    // Otherwise kubelet puts a DROP rule into this machine's INPUT/OUTPUT chains.
    makeIPTablesUtilChains: false,
    clusterDomain: "cluster.local",
    clusterDNS: [NODE_NETWORK.nodeIp],
    // No upstream resolver for pods: names outside the cluster never resolve.
    resolvConf,
    podLogsDir: join(o.dir, "pod-logs"),
    // A small, shared disk: evict only when nearly full, never collect images.
    evictionHard: {
      "memory.available": "100Mi",
      "nodefs.available": "1%",
      "imagefs.available": "1%",
      "nodefs.inodesFree": "1%",
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    registerNode: true,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    shutdownGracePeriod: "0s",
    // Pods Ready within a second or two of their probes passing.
    nodeStatusUpdateFrequency: "4s",
    syncFrequency: "10s",
  };
}

export function startKubelet(o: KubeletOptions): ManagedProcess {
  mkdirSync(join(o.dir, "root"), { recursive: true });
  const resolvConf = join(o.dir, "resolv.conf");
  writeFileSync(resolvConf, "");
  const configPath = join(o.dir, "kubelet-config.json");
  writeFileSync(configPath, JSON.stringify(kubeletConfiguration(o, resolvConf), null, 2));
  return startProcess({
    name: "kubelet",
    command: binaryPath("kubelet"),
    args: [
      `--config=${configPath}`,
      `--kubeconfig=${o.kubeconfigPath}`,
      `--root-dir=${join(o.dir, "root")}`,
      // Defaults to /var/lib/kubelet/pki whatever --root-dir says.
      `--cert-dir=${join(o.dir, "pki")}`,
      `--node-ip=${NODE_NETWORK.nodeIp}`,
      `--hostname-override=${NODE_NAME}`,
      "--v=1",
    ],
    logPath: join(o.logsDir, "kubelet.log"),
  });
}
