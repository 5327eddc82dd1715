import type { KubernetesObject, ObjectCache, V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import type { Logger } from "../../platform/logger.ts";
import { type Attempt, summarizeError } from "./api-error-summary.ts";
import type { DesiredState } from "./desired/index.ts";
import { FIELD_MANAGER } from "./desired/names.ts";
import type { KubeApi } from "./kube-api.ts";
import { resourcePath } from "./kube-api.ts";
import { isNotFound } from "./operator-error.ts";
import type { OperatorMetrics } from "./operator-metrics.ts";

/** What one pass of server-side applies left: the workloads as the API server returned them. */
export interface Applied {
  statefulSet: V1StatefulSet | undefined;
  deployment: V1Deployment | undefined;
  /** One sentence per child that could not be applied, deleted or built. */
  errors: string[];
}

export interface ApplyDeps {
  api: KubeApi;
  metrics: OperatorMetrics;
  log: Logger;
  /** The cache of a kind the operator may have to delete, when it watches that kind. */
  cacheFor(kind: string): ObjectCache<KubernetesObject> | undefined;
}

/**
 * Applies every desired child with server-side apply (a no-op when nothing
 * differs; `force` takes back fields edited by hand), in the order built
 * (config and RBAC before the workloads that read them), then deletes the
 * children the spec no longer wants. Failures are collected, not thrown, so
 * one refused child does not stop the others.
 */
export async function applyChildren(d: ApplyDeps, desired: DesiredState, ns: string): Promise<Applied> {
  const out: Applied = { statefulSet: undefined, deployment: undefined, errors: [...desired.invalid] };
  const attempt = (verb: string, kind: string, name: string): Attempt => ({
    verb,
    kind,
    name,
    namespace: ns,
  });
  for (const obj of desired.objects) {
    const kind = obj.kind ?? "";
    try {
      const applied = await d.api.apply<KubernetesObject>(obj, FIELD_MANAGER);
      d.metrics.applyTotal.inc({ kind, result: "success" });
      if (kind === "StatefulSet") out.statefulSet = applied as V1StatefulSet;
      if (kind === "Deployment") out.deployment = applied as V1Deployment;
    } catch (err) {
      d.metrics.applyTotal.inc({ kind, result: "error" });
      d.log.warn({ err: String(err), kind }, "apply failed");
      out.errors.push(summarizeError(err, attempt("apply", kind, obj.metadata?.name ?? "")));
    }
  }
  for (const gone of desired.absent) {
    if (d.cacheFor(gone.kind)?.get(gone.name, ns) === undefined) continue;
    try {
      await d.api.delete(resourcePath(gone.kind, ns, gone.name));
    } catch (err) {
      if (!isNotFound(err)) out.errors.push(summarizeError(err, attempt("delete", gone.kind, gone.name)));
    }
  }
  return out;
}
