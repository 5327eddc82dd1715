/**
 * A strategic-merge patch over a pod template, as `kubectl patch
 * --type=strategic` applies one to a Pod: maps merge key by key, `null`
 * removes a key, lists the Kubernetes API marks with a merge key merge item by
 * item (containers by name, a container's ports by containerPort...), every
 * other list is replaced. Directives: `$patch: delete` removes a map or a list
 * item, `$patch: replace` replaces a map, or (as an item of its own) a whole
 * list. Other directives (`$retainKeys`, `$setElementOrder`,
 * `$deleteFromPrimitiveList`) are refused: kubectl writes them when computing
 * patches, nobody writes them by hand.
 *
 * Pure and total over JSON: a patch it cannot apply throws PatchError naming
 * the path, which the operator reports instead of applying the workload.
 */

export class PatchError extends Error {
  override readonly name = "PatchError";
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonMap = { [k: string]: Json };

const CONTAINER_LISTS = ["spec.containers", "spec.initContainers", "spec.ephemeralContainers"];

/** patchMergeKey of the PodTemplateSpec's lists (k8s.io/api core/v1 types), by path from the template. */
const MERGE_KEYS: Readonly<Record<string, string>> = {
  "spec.volumes": "name",
  "spec.imagePullSecrets": "name",
  "spec.hostAliases": "ip",
  "spec.topologySpreadConstraints": "topologyKey",
  "spec.resourceClaims": "name",
  "spec.schedulingGates": "name",
  ...Object.fromEntries(
    CONTAINER_LISTS.flatMap((list) => [
      [list, "name"],
      [`${list}[].env`, "name"],
      [`${list}[].ports`, "containerPort"],
      [`${list}[].volumeMounts`, "mountPath"],
      [`${list}[].volumeDevices`, "devicePath"],
      [`${list}[].resizePolicy`, "resourceName"],
    ]),
  ),
};

function isMap(v: unknown): v is JsonMap {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The patch applied to base (neither is modified). */
export function strategicMerge<T>(base: T, patch: unknown): T {
  const out = mergeValue(base as Json, patch as Json, "");
  if (out === undefined) throw new PatchError("the patch deletes the whole template ($patch: delete)");
  return out as T;
}

function mergeValue(base: Json | undefined, patch: Json, path: string): Json | undefined {
  if (Array.isArray(patch)) return mergeList(base, patch, path);
  if (!isMap(patch)) return patch;
  const directive = patch.$patch;
  if (directive === "delete") return undefined;
  if (directive === "replace") return stripped(patch, path);
  if (directive !== undefined && directive !== "merge")
    throw new PatchError(`${at(path)}: unknown $patch directive ${JSON.stringify(directive)}`);
  const out: JsonMap = isMap(base) ? { ...base } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === "$patch") continue;
    const child = path === "" ? key : `${path}.${key}`;
    if (key.startsWith("$")) throw new PatchError(`${child}: the directive ${key} is not supported here`);
    if (value === null) {
      delete out[key];
      continue;
    }
    const merged = mergeValue(out[key], value, child);
    if (merged === undefined) delete out[key];
    else out[key] = merged;
  }
  return out;
}

function mergeList(base: Json | undefined, patch: Json[], path: string): Json[] {
  const key = MERGE_KEYS[path];
  if (key === undefined) return patch.map((item, i) => stripped(item, `${path}[${i}]`));
  // An item that is only { $patch: replace } makes the other items the whole list.
  const replace = patch.some((i) => isMap(i) && i.$patch === "replace" && !(key in i));
  const out: Json[] = replace || !Array.isArray(base) ? [] : [...base];
  for (const item of patch) {
    if (replace && isMap(item) && item.$patch === "replace" && !(key in item)) continue;
    if (!isMap(item) || item[key] === undefined || item[key] === null)
      throw new PatchError(`${path}: every item needs its merge key ${key}`);
    const index = out.findIndex((b) => isMap(b) && b[key] === item[key]);
    const itemPath = `${path}[]`;
    if (item.$patch === "delete") {
      if (index !== -1) out.splice(index, 1);
      continue;
    }
    if (index === -1) out.push(stripped(item, itemPath));
    else out[index] = mergeValue(out[index], item, itemPath) ?? out[index]!;
  }
  return out;
}

/** A patch value taken as it is, without its directives (a new item, a replaced map). */
function stripped(v: Json, path: string): Json {
  if (Array.isArray(v)) return v.map((item) => stripped(item, path));
  if (!isMap(v)) return v;
  const out: JsonMap = {};
  for (const [key, value] of Object.entries(v)) {
    if (key === "$patch") continue;
    if (key.startsWith("$")) throw new PatchError(`${at(path)}.${key}: the directive is not supported here`);
    if (value !== null) out[key] = stripped(value, `${path}.${key}`);
  }
  return out;
}

function at(path: string): string {
  return path === "" ? "(the template)" : path;
}
