// What end-to-end tests ask of a ChatCluster running on the real node: its pods
// and Services, its auth material (read back from the Secret the quick start
// made), tokens for SDK clients, and each pod's metrics, read over the pod
// network from this machine.
import { CoreV1Api, DiscoveryV1Api, type V1Pod } from "@kubernetes/client-node";
import { SignJWT } from "jose";
import type { ControlPlane } from "../testenv/harness/controlplane.ts";
import { QUICK_START } from "./quick-start.ts";

export type Tier = "gateway" | "logic";

export class ChatClusterOnNode {
  readonly cp: ControlPlane;
  readonly name: string;
  readonly namespace: string;
  readonly #core: CoreV1Api;
  readonly #discovery: DiscoveryV1Api;
  #secret: { jwt: string; apiKey: string } | undefined;

  constructor(cp: ControlPlane, name = QUICK_START.name, namespace = QUICK_START.namespace) {
    this.cp = cp;
    this.name = name;
    this.namespace = namespace;
    this.#core = cp.kubeConfig.makeApiClient(CoreV1Api);
    this.#discovery = cp.kubeConfig.makeApiClient(DiscoveryV1Api);
  }

  /** The pods of a tier by name; those being deleted (draining, say) only with `terminating`. */
  async pods(tier: Tier, opts: { terminating?: boolean } = {}): Promise<V1Pod[]> {
    const list = await this.#core.listNamespacedPod({
      namespace: this.namespace,
      labelSelector: `app.kubernetes.io/instance=${this.name},app.kubernetes.io/component=${tier}`,
    });
    return list.items
      .filter((p) => opts.terminating === true || p.metadata?.deletionTimestamp === undefined)
      .sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
  }

  static ready(pod: V1Pod): boolean {
    return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  }

  async clusterIp(service: string): Promise<string> {
    const svc = await this.#core.readNamespacedService({ name: service, namespace: this.namespace });
    const ip = svc.spec?.clusterIP;
    if (ip === undefined || ip === "None") throw new Error(`${service} has no cluster IP`);
    return ip;
  }

  /** ws://<cluster IP of <name>-gateway>:8080/ */
  async gatewayUrl(): Promise<string> {
    return `ws://${await this.clusterIp(`${this.name}-gateway`)}:8080/`;
  }

  /** http://<cluster IP of <name>-logic>:8081 */
  async logicApiUrl(): Promise<string> {
    return `http://${await this.clusterIp(`${this.name}-logic`)}:8081`;
  }

  /** Pod names a Service's EndpointSlices list as ready (the ones kube-proxy sends traffic to). */
  async readyEndpoints(service: string): Promise<string[]> {
    const slices = await this.#discovery.listNamespacedEndpointSlice({
      namespace: this.namespace,
      labelSelector: `kubernetes.io/service-name=${service}`,
    });
    return slices.items
      .flatMap((s) => s.endpoints ?? [])
      .filter((e) => e.conditions?.ready === true)
      .map((e) => e.targetRef?.name ?? "")
      .sort();
  }

  async #auth(): Promise<{ jwt: string; apiKey: string }> {
    if (this.#secret === undefined) {
      const s = await this.#core.readNamespacedSecret({
        name: QUICK_START.authSecret,
        namespace: this.namespace,
      });
      const field = (k: string) => Buffer.from(s.data?.[k] ?? "", "base64").toString("utf8");
      this.#secret = { jwt: field("secret"), apiKey: field("api-keys").split(",")[0]?.trim() ?? "" };
    }
    return this.#secret;
  }

  /** A client token for `user` that may read and write every room, signed with the cluster's secret. */
  async token(user: string): Promise<string> {
    const { jwt } = await this.#auth();
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ rooms: { read: [">"], write: [">"] } })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(user)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(new TextEncoder().encode(jwt));
  }

  async apiKey(): Promise<string> {
    return (await this.#auth()).apiKey;
  }

  /** A pod's Prometheus text from its ops port (9102), straight over the pod network. */
  static async metrics(pod: V1Pod, port = 9102): Promise<string> {
    const res = await fetch(`http://${pod.status?.podIP}:${port}/metrics`);
    if (!res.ok) throw new Error(`metrics of ${pod.metadata?.name}: HTTP ${res.status}`);
    return res.text();
  }
}

/** The value of an unlabelled sample in Prometheus text (NaN when absent). */
export function sample(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}
