import type { ResolvedSpec } from "../api/defaults.ts";
import type { Problem } from "./diagnosis.ts";

/**
 * The Secrets and ConfigMaps a ChatCluster reads by reference, checked for
 * existence and for the key. A missing one would leave logic pods in
 * CreateContainerConfigError with no hint on the ChatCluster; this names the
 * object, the key and the field that points at it.
 */

export type RefKind = "Secret" | "ConfigMap";

export interface Reference {
  kind: RefKind;
  name: string;
  key: string;
  /** The spec field holding the reference, for the message. */
  field: string;
}

/** Keys of an object, or undefined when it does not exist. Other errors propagate (the check is skipped). */
export type ReadKeys = (kind: RefKind, name: string) => Promise<readonly string[] | undefined>;

export function references(spec: ResolvedSpec): Reference[] {
  const a = spec.auth;
  const out: Reference[] = [];
  if (a.jwt) out.push({ kind: "Secret", ...a.jwt, field: "spec.auth.jwt.secretKeyRef" });
  if (a.jwks?.secretKeyRef)
    out.push({ kind: "Secret", ...a.jwks.secretKeyRef, field: "spec.auth.jwks.secretKeyRef" });
  if (a.jwks?.configMapKeyRef)
    out.push({ kind: "ConfigMap", ...a.jwks.configMapKeyRef, field: "spec.auth.jwks.configMapKeyRef" });
  if (a.apiKeys) out.push({ kind: "Secret", ...a.apiKeys, field: "spec.auth.apiKeys.secretKeyRef" });
  return out;
}

export async function checkReferences(
  refs: readonly Reference[],
  namespace: string,
  read: ReadKeys,
): Promise<Problem[]> {
  const keysByObject = new Map<string, Promise<readonly string[] | undefined>>();
  const problems: Problem[] = [];
  for (const r of refs) {
    const id = `${r.kind}/${r.name}`;
    let keys = keysByObject.get(id);
    if (keys === undefined) {
      keys = read(r.kind, r.name);
      keysByObject.set(id, keys);
    }
    const have = await keys;
    const reason = r.kind === "Secret" ? "SecretNotFound" : "ConfigMapNotFound";
    const kind = r.kind === "Secret" ? "secret generic" : "configmap";
    if (have === undefined) {
      problems.push({
        reason,
        message: `${r.kind} ${r.name} (key ${r.key}, from ${r.field}) does not exist in namespace ${namespace}: create it, e.g. kubectl create ${kind} ${r.name} -n ${namespace} --from-literal=${r.key}=...`,
      });
    } else if (!have.includes(r.key)) {
      const list = have.length === 0 ? "it has no keys" : `its keys are ${have.join(", ")}`;
      problems.push({
        reason,
        message: `${r.kind} ${r.name} has no key ${r.key} (from ${r.field}); ${list}.`,
      });
    }
  }
  return problems;
}
