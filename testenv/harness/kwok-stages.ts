// kwok stage configuration variants for tests. The built file
// (share/kwok-stages.yaml) holds kwok's "fast" node and pod stages.

/**
 * kwok's pod-delete stage, but only once the pod has no finalizers left (as
 * kwok's general stage). It also skips the update kwok's own grace-0 delete
 * causes: kwok deletes by name without the uid precondition a kubelet uses, so
 * acting on that update again could delete a same-name pod the StatefulSet
 * controller has just created in the old one's place.
 */
const POD_DELETE_AFTER_FINALIZERS = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
    - key: '.metadata.finalizers'
      operator: 'DoesNotExist'
    - key: '.metadata.deletionGracePeriodSeconds > 0'
      operator: 'In'
      values: ['true']
  next:
    delete: true
`;

export function withPodDeleteAfterFinalizers(stages: string): string {
  const docs = stages.split(/^---$/m).filter((d) => !/^\s*name: pod-delete\s*$/m.test(d) && d.trim() !== "");
  return [...docs.map((d) => d.trim()), POD_DELETE_AFTER_FINALIZERS].map((d) => `---\n${d}\n`).join("");
}
