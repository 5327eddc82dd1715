import type { V1Container, V1PodTemplateSpec } from "@kubernetes/client-node";
import type { TierPod } from "../api/defaults.ts";
import { PatchError, strategicMerge } from "./strategic-merge.ts";

/**
 * A tier's pod template with what the spec adds to the operator's own: pod
 * labels and annotations, the priority class, image pull secrets, extra env,
 * then the podTemplate patch over all of it. Each is added only when set, so a
 * spec that sets none builds the template an older operator built. The
 * operator's labels (the selector) and annotations (the config hash) win.
 *
 * Throws PatchError, its message starting with the spec field, when the patch
 * cannot be applied or removes the tier's container.
 */
export function withTierPod(
  template: V1PodTemplateSpec,
  pod: TierPod,
  pullSecrets: readonly { name: string }[],
  container: string,
  field: string,
): V1PodTemplateSpec {
  const meta = template.metadata ?? {};
  const spec = template.spec!;
  const out: V1PodTemplateSpec = {
    metadata: {
      ...meta,
      ...(Object.keys(pod.labels).length > 0 ? { labels: { ...pod.labels, ...meta.labels } } : {}),
      ...(Object.keys(pod.annotations).length > 0
        ? { annotations: { ...pod.annotations, ...meta.annotations } }
        : {}),
    },
    spec: {
      ...spec,
      ...(pullSecrets.length > 0 ? { imagePullSecrets: pullSecrets.map((s) => ({ name: s.name })) } : {}),
      ...(pod.priorityClassName !== undefined ? { priorityClassName: pod.priorityClassName } : {}),
      containers:
        pod.env.length === 0
          ? spec.containers
          : spec.containers.map((c) =>
              c.name === container
                ? { ...c, env: [...(c.env ?? []), ...(pod.env as V1Container["env"] & {})] }
                : c,
            ),
    },
  };
  if (pod.podTemplate === undefined) return out;
  let patched: V1PodTemplateSpec;
  try {
    patched = strategicMerge(out, pod.podTemplate);
  } catch (err) {
    if (err instanceof PatchError) throw new PatchError(`${field}: ${err.message}`);
    throw err;
  }
  if (!patched.spec?.containers?.some((c) => c.name === container))
    throw new PatchError(`${field}.spec.containers: the patch removes the ${container} container`);
  return patched;
}
