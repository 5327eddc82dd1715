import { type KubeConfig, type KubernetesObject, Watch } from "@kubernetes/client-node";

/**
 * Objects as PartialObjectMetadata (what controller-runtime calls a metadata
 * informer): for a kind the operator only needs to hear about, such as every
 * Secret a ChatCluster may reference. The API server sends no data, and the
 * cache keeps only name, namespace, uid and resourceVersion: an annotation
 * such as kubectl's last-applied-configuration can hold a Secret's data.
 */

export const METADATA_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const METADATA_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/** What the cache keeps of an object. */
export function slim<T extends KubernetesObject>(obj: T, apiVersion: string, kind: string): T {
  const m = obj.metadata ?? {};
  return {
    apiVersion,
    kind,
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion },
  } as T;
}

/** A Watch whose requests ask for PartialObjectMetadata and whose events are slimmed before the cache sees them. */
export class MetadataWatch extends Watch {
  readonly #apiVersion: string;
  readonly #kind: string;

  constructor(kubeConfig: KubeConfig, apiVersion: string, kind: string) {
    // The client sets its own headers from the KubeConfig; this one adds the Accept header after them.
    const withAccept = Object.create(kubeConfig) as KubeConfig;
    withAccept.applySecurityAuthentication = async (ctx) => {
      await kubeConfig.applySecurityAuthentication(ctx);
      ctx.setHeaderParam("Accept", METADATA_ACCEPT);
    };
    super(withAccept);
    this.#apiVersion = apiVersion;
    this.#kind = kind;
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: KubernetesObject, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(
      path,
      queryParams,
      (phase, obj: KubernetesObject, watchObj) =>
        // ERROR events carry a Status, not an object: passed on as they are.
        callback(phase, phase === "ERROR" ? obj : slim(obj, this.#apiVersion, this.#kind), watchObj),
      done,
    );
  }
}
