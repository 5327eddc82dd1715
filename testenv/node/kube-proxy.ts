// kube-proxy in nftables mode: its rules live in its own `kube-proxy` tables
// (ip, ip6), NodePorts only on the bridge address, and it leaves the machine's
// conntrack settings alone.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { binaryPath } from "../harness/paths.ts";
import { type ManagedProcess, startProcess } from "../harness/proc.ts";
import { NODE_NAME } from "./kubelet.ts";
import { NODE_NETWORK } from "./network.ts";

export interface KubeProxyOptions {
  dir: string;
  logsDir: string;
  kubeconfigPath: string;
  healthzPort: number;
  metricsPort: number;
}

export function startKubeProxy(o: KubeProxyOptions): ManagedProcess {
  const config = {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "nftables",
    clientConnection: { kubeconfig: o.kubeconfigPath },
    hostnameOverride: NODE_NAME,
    clusterCIDR: NODE_NETWORK.podCidr,
    // NodePorts answer on the bridge only, never on the machine's other interfaces.
    nodePortAddresses: [`${NODE_NETWORK.nodeIp}/32`],
    healthzBindAddress: `127.0.0.1:${o.healthzPort}`,
    metricsBindAddress: `127.0.0.1:${o.metricsPort}`,
    // 0: keep this machine's conntrack table size and timeouts as they are.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
  };
  const configPath = join(o.dir, "kube-proxy-config.json");
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  return startProcess({
    name: "kube-proxy",
    command: binaryPath("kube-proxy"),
    args: [`--config=${configPath}`, "--v=1"],
    logPath: join(o.logsDir, "kube-proxy.log"),
  });
}
