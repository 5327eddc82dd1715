// CoreDNS as the cluster DNS, on the bridge address (port 53, which pods get as
// their nameserver). It answers cluster.local and reverse lookups from the API
// and nothing else: built without the forward plugin, it refuses every other
// name instead of sending it off the machine.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { binaryPath } from "../harness/paths.ts";
import { type ManagedProcess, startProcess } from "../harness/proc.ts";
import { NODE_NETWORK } from "./network.ts";

export interface CorednsOptions {
  dir: string;
  logsDir: string;
  kubeconfigPath: string;
  readyPort: number;
}

export function startCoredns(o: CorednsOptions): ManagedProcess {
  const corefile = `cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind ${NODE_NETWORK.nodeIp}
    errors
    ready 127.0.0.1:${o.readyPort}
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${o.kubeconfigPath}
        pods insecure
    }
    cache 5
}
`;
  const path = join(o.dir, "Corefile");
  writeFileSync(path, corefile);
  return startProcess({
    name: "coredns",
    command: binaryPath("coredns"),
    args: ["-conf", path],
    logPath: join(o.logsDir, "coredns.log"),
  });
}
