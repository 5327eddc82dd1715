import type { V1Deployment } from "@kubernetes/client-node";

/**
 * Logic has fully rolled out: the Deployment controller has seen the latest
 * spec, every replica runs the current template and is Ready, and no pod of
 * an older template is left (as `kubectl rollout status` defines done).
 * Gateways are replaced only after this, so a deploy that touches both tiers
 * never has new gateways waiting on logic that cannot start.
 */
export function logicRolledOut(dep: V1Deployment | undefined, desired: number): boolean {
  if (dep === undefined) return false;
  const s = dep.status ?? {};
  return (
    (s.observedGeneration ?? 0) >= (dep.metadata?.generation ?? 0) &&
    (s.updatedReplicas ?? 0) === desired &&
    (s.replicas ?? 0) === desired &&
    (s.readyReplicas ?? 0) >= desired &&
    (s.availableReplicas ?? 0) >= desired
  );
}
