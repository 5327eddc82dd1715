import { Agent, request } from "node:https";
import { type KubeConfig, PatchStrategy } from "@kubernetes/client-node";
import { OperatorError } from "./operator-error.ts";

/**
 * A small JSON client over the API server, authenticated and TLS-configured by
 * the client's KubeConfig (in-cluster token, kubeconfig certificates).
 *
 * Why not the generated typed clients: their serializer maps objects through
 * models generated for one Kubernetes version (dropping fields it does not
 * know) and writes MicroTime fields (Lease renewTime) with millisecond
 * precision, which the API server rejects. Server-side apply needs only the
 * right Content-Type, `application/apply-patch+yaml` (PatchStrategy.ServerSideApply),
 * plus fieldManager and force, and JSON is valid YAML.
 */
export interface KubeResponse<T> {
  status: number;
  body: T;
}

export interface Resource {
  /** "v1" or "group/version". */
  apiVersion: string;
  /** Lower-case plural, e.g. "statefulsets". */
  plural: string;
  namespaced: boolean;
}

/** The kinds the operator touches, so paths need no discovery round trip. */
export const RESOURCES: Readonly<Record<string, Resource>> = {
  ChatCluster: { apiVersion: "chatcluster.io/v1alpha1", plural: "chatclusters", namespaced: true },
  ConfigMap: { apiVersion: "v1", plural: "configmaps", namespaced: true },
  Secret: { apiVersion: "v1", plural: "secrets", namespaced: true },
  Service: { apiVersion: "v1", plural: "services", namespaced: true },
  ServiceAccount: { apiVersion: "v1", plural: "serviceaccounts", namespaced: true },
  PersistentVolumeClaim: { apiVersion: "v1", plural: "persistentvolumeclaims", namespaced: true },
  Event: { apiVersion: "v1", plural: "events", namespaced: true },
  Pod: { apiVersion: "v1", plural: "pods", namespaced: true },
  StatefulSet: { apiVersion: "apps/v1", plural: "statefulsets", namespaced: true },
  Deployment: { apiVersion: "apps/v1", plural: "deployments", namespaced: true },
  PodDisruptionBudget: { apiVersion: "policy/v1", plural: "poddisruptionbudgets", namespaced: true },
  Role: { apiVersion: "rbac.authorization.k8s.io/v1", plural: "roles", namespaced: true },
  RoleBinding: { apiVersion: "rbac.authorization.k8s.io/v1", plural: "rolebindings", namespaced: true },
  Lease: { apiVersion: "coordination.k8s.io/v1", plural: "leases", namespaced: true },
  ServiceMonitor: { apiVersion: "monitoring.coreos.com/v1", plural: "servicemonitors", namespaced: true },
  Ingress: { apiVersion: "networking.k8s.io/v1", plural: "ingresses", namespaced: true },
  NetworkPolicy: { apiVersion: "networking.k8s.io/v1", plural: "networkpolicies", namespaced: true },
  HTTPRoute: { apiVersion: "gateway.networking.k8s.io/v1", plural: "httproutes", namespaced: true },
  Certificate: { apiVersion: "cert-manager.io/v1", plural: "certificates", namespaced: true },
  CustomResourceDefinition: {
    apiVersion: "apiextensions.k8s.io/v1",
    plural: "customresourcedefinitions",
    namespaced: false,
  },
};

export function resourceFor(kind: string): Resource {
  const r = RESOURCES[kind];
  if (r === undefined) throw new OperatorError("invalid_config", `unknown kind ${kind}`);
  return r;
}

/** `/api/v1/namespaces/ns/configmaps/name`, or the collection (all namespaces when namespace is ""). */
export function resourcePath(kind: string, namespace: string, name?: string, subresource?: string): string {
  const r = resourceFor(kind);
  const base = r.apiVersion.includes("/") ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  let path = r.namespaced && namespace !== "" ? `${base}/namespaces/${encodeURIComponent(namespace)}` : base;
  path += `/${r.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) path += `/${subresource}`;
  return path;
}

export interface KubeApiOptions {
  /** Per-request timeout. */
  timeoutMs?: number;
}

export class KubeApi {
  readonly kubeConfig: KubeConfig;
  readonly #server: URL;
  readonly #timeoutMs: number;
  #agent: Agent | undefined;

  constructor(kubeConfig: KubeConfig, opts: KubeApiOptions = {}) {
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null) throw new OperatorError("invalid_config", "kubeconfig has no current cluster");
    this.kubeConfig = kubeConfig;
    this.#server = new URL(cluster.server);
    this.#timeoutMs = opts.timeoutMs ?? 15_000;
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
    accept = "application/json",
  ): Promise<KubeResponse<T>> {
    // Re-applied per request: in-cluster tokens are rotated on disk.
    const opts: {
      headers: Record<string, string>;
      ca?: Buffer;
      cert?: Buffer;
      key?: Buffer;
      rejectUnauthorized?: boolean;
    } = {
      headers: {},
    };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    // One keep-alive agent for the process; the per-call agent the KubeConfig makes would reconnect every time.
    this.#agent ??= new Agent({
      keepAlive: true,
      maxSockets: 16,
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
    });
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { ...opts.headers, accept };
    if (payload) {
      headers["content-type"] = contentType;
      headers["content-length"] = String(payload.length);
    }
    const url = new URL(path, this.#server);
    return new Promise<KubeResponse<T>>((resolve, reject) => {
      const req = request(url, { method, headers, agent: this.#agent, timeout: this.#timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (err) =>
          reject(
            new OperatorError("api_unreachable", `${method} ${path}: ${err.message}`, {
              cause: err,
              answer: { method, path, message: err.message },
            }),
          ),
        );
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = text === "" ? {} : JSON.parse(text);
          } catch {
            // Non-JSON bodies (proxies, 503 pages) stay text for the error message.
          }
          if (status >= 200 && status < 300) {
            resolve({ status, body: parsed as T });
            return;
          }
          const st = parsed as { message?: string; reason?: string };
          const msg = st.message ?? text.slice(0, 300);
          const answer = { method, path, message: msg, ...(st.reason ? { reason: st.reason } : {}) };
          reject(
            new OperatorError(
              status === 409 ? "conflict" : status === 404 ? "not_found" : "api_error",
              `${method} ${path}: ${status} ${msg}`,
              { status, answer },
            ),
          );
        });
      });
      req.on("timeout", () => req.destroy(new Error(`timed out after ${this.#timeoutMs}ms`)));
      req.on("error", (err) =>
        reject(
          new OperatorError("api_unreachable", `${method} ${path}: ${err.message}`, {
            cause: err,
            answer: { method, path, message: err.message },
          }),
        ),
      );
      req.end(payload);
    });
  }

  /** `accept` may ask for another representation, e.g. PartialObjectMetadataList. */
  async get<T>(path: string, accept?: string): Promise<T> {
    return (await this.request<T>("GET", path, undefined, undefined, accept)).body;
  }

  async create<T>(path: string, body: unknown): Promise<T> {
    return (await this.request<T>("POST", path, body)).body;
  }

  async replace<T>(path: string, body: unknown): Promise<T> {
    return (await this.request<T>("PUT", path, body)).body;
  }

  /** With `uid`, the API server deletes only that incarnation (409 if the name now holds another). */
  async delete(path: string, opts: { uid?: string } = {}): Promise<void> {
    await this.request("DELETE", path, {
      propagationPolicy: "Background",
      ...(opts.uid !== undefined ? { preconditions: { uid: opts.uid } } : {}),
    });
  }

  async mergePatch<T>(path: string, patch: unknown): Promise<T> {
    return (await this.request<T>("PATCH", path, patch, PatchStrategy.MergePatch)).body;
  }

  /**
   * Server-side apply of a complete intent: the operator owns exactly the fields
   * it sends, and `force` takes them back from anyone who changed them by hand.
   */
  async apply<T>(
    obj: { kind?: string; metadata?: { name?: string; namespace?: string } },
    fieldManager: string,
    subresource?: string,
  ): Promise<T> {
    const kind = obj.kind ?? "";
    const name = obj.metadata?.name ?? "";
    const path = `${resourcePath(kind, obj.metadata?.namespace ?? "", name, subresource)}?fieldManager=${encodeURIComponent(fieldManager)}&force=true`;
    return (await this.request<T>("PATCH", path, obj, PatchStrategy.ServerSideApply)).body;
  }

  /** Whether the cluster serves a kind in a group/version (API discovery). */
  async hasKind(apiVersion: string, kind: string): Promise<boolean> {
    const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    try {
      const list = await this.get<{ resources?: { kind: string }[] }>(base);
      return (list.resources ?? []).some((r) => r.kind === kind);
    } catch (err) {
      if (err instanceof OperatorError && err.status === 404) return false;
      throw err;
    }
  }

  close(): void {
    this.#agent?.destroy();
  }
}
