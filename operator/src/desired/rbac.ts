import type { V1Role, V1RoleBinding, V1ServiceAccount } from "@kubernetes/client-node";
import type { ChatCluster } from "../api/chatcluster-types.ts";
import { type ChildNames, childMeta } from "./names.ts";

/** Logic discovers gateways from EndpointSlices in its own namespace; nothing more. */
export function logicServiceAccount(cc: ChatCluster, names: ChildNames): V1ServiceAccount {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: childMeta(cc, names.logicServiceAccount, "rbac"),
  };
}

export function logicRole(cc: ChatCluster, names: ChildNames): V1Role {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: childMeta(cc, names.logicRole, "rbac"),
    rules: [
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
    ],
  };
}

export function logicRoleBinding(cc: ChatCluster, names: ChildNames): V1RoleBinding {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: childMeta(cc, names.logicRoleBinding, "rbac"),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: names.logicRole },
    subjects: [
      {
        kind: "ServiceAccount",
        name: names.logicServiceAccount,
        namespace: cc.metadata.namespace ?? "default",
      },
    ],
  };
}
