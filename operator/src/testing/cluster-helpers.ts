import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { crdsEstablished } from "../../../testenv/harness/crds-established.ts";

/** Kubernetes JSON as tests read it: metadata typed, the rest walked freely. */
export interface Obj {
  metadata: {
    uid: string;
    generation?: number;
    labels?: Record<string, string>;
    ownerReferences?: {
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
    }[];
  };
  // biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary Kubernetes JSON
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary Kubernetes JSON
  status?: any;
}

/** A ChatCluster's condition of this type, or undefined. */
export function conditionOf(
  cc: Obj,
  type: string,
): { status: string; reason: string; message: string } | undefined {
  return cc.status?.conditions?.find((c: { type: string }) => c.type === type);
}

export interface ClusterHelpers {
  kubectl(...args: string[]): Promise<string>;
  get(kind: string, name: string): Promise<Obj>;
  /** undefined when the object does not exist. */
  tryGet(kind: string, name: string): Promise<Obj | undefined>;
  /** Writes yaml to a file in dir and `kubectl apply`s it in the namespace. */
  applyYaml(file: string, yaml: string): Promise<string>;
  leaseHolder(): Promise<string>;
  /** Applies the ChatCluster CRD and waits until the API server serves it. */
  installCrd(): Promise<void>;
  /** Creates or replaces a generic Secret with these literal keys (in `namespace`, default the bound one). */
  applySecret(name: string, keys: Record<string, string>, namespace?: string): Promise<void>;
}

const CRD = new URL("../../../crds/chatclusters.chatcluster.io.yaml", import.meta.url).pathname;

/** kubectl shortcuts bound to one namespace; `run` is the control plane's kubectl. */
export function clusterHelpers(
  run: () => (args: string[]) => Promise<string>,
  ns: string,
  dir: () => string,
): ClusterHelpers {
  const kubectl = (...args: string[]) => run()(args);
  const get = async (kind: string, name: string): Promise<Obj> =>
    JSON.parse(await kubectl("get", kind, name, "-n", ns, "-o", "json")) as Obj;
  return {
    kubectl,
    get,
    async tryGet(kind, name) {
      try {
        return await get(kind, name);
      } catch (err) {
        if (/NotFound|not found/.test(String(err))) return undefined;
        throw err;
      }
    },
    async applyYaml(file, yaml) {
      const path = join(dir(), file);
      writeFileSync(path, yaml);
      return kubectl("apply", "-n", ns, "-f", path);
    },
    async installCrd() {
      await kubectl("apply", "-f", CRD);
      await crdsEstablished(run(), ["chatclusters.chatcluster.io"]);
    },
    async applySecret(name, keys, namespace = ns) {
      const literals = Object.entries(keys).map(([k, v]) => `--from-literal=${k}=${v}`);
      const yaml = await kubectl(
        "create",
        "secret",
        "generic",
        name,
        "-n",
        namespace,
        ...literals,
        "--dry-run=client",
        "-o",
        "yaml",
      );
      const path = join(dir(), `secret-${namespace}-${name}.yaml`);
      writeFileSync(path, yaml);
      await kubectl("apply", "-f", path);
    },
    async leaseHolder() {
      const out = await kubectl(
        "get",
        "lease",
        "-n",
        "default",
        "chatcluster-operator",
        "-o",
        "jsonpath={.spec.holderIdentity}",
      );
      return out.trim();
    },
  };
}
