import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import { asSentence as sentence } from "../sentence.ts";

/**
 * Why pods are not where the spec wants them, in words, read from what the
 * other controllers and the kubelet report: Deployment conditions, the
 * StatefulSet's FailedCreate events, pod scheduling and container states.
 * The first problem becomes the reason of the ChatCluster's conditions, so a
 * stuck rollout says why instead of "rolling out" forever.
 */

export type ProblemReason =
  | "SecretNotFound"
  | "ConfigMapNotFound"
  | "FailedCreate"
  | "Unschedulable"
  | "ProgressDeadlineExceeded"
  | "ImagePullBackOff"
  | "CrashLoopBackOff"
  | "CreateContainerConfigError"
  | "ContainerNotStarting";

export interface Problem {
  reason: ProblemReason;
  message: string;
}

/** Container waiting reasons that mean the pod will not become Ready by itself. */
const STUCK_WAITING: Readonly<Record<string, ProblemReason>> = {
  ErrImagePull: "ImagePullBackOff",
  ImagePullBackOff: "ImagePullBackOff",
  InvalidImageName: "ImagePullBackOff",
  CrashLoopBackOff: "CrashLoopBackOff",
  CreateContainerConfigError: "CreateContainerConfigError",
  CreateContainerError: "ContainerNotStarting",
  RunContainerError: "ContainerNotStarting",
};

export interface DiagnosisInput {
  /** Missing Secrets and ConfigMaps or keys the spec references (reference-check.ts). */
  references: readonly Problem[];
  deployment: V1Deployment | undefined;
  /** The latest FailedCreate event message of the gateway StatefulSet, when pods are missing. */
  statefulSetFailedCreate: string | undefined;
  statefulSetName: string;
  /** Pods of both tiers that are not Ready (terminating ones excluded). */
  unreadyPods: readonly V1Pod[];
}

export function diagnose(i: DiagnosisInput): Problem[] {
  const out: Problem[] = [...i.references];
  if (i.statefulSetFailedCreate !== undefined) {
    out.push({
      reason: "FailedCreate",
      message: `The StatefulSet ${i.statefulSetName} cannot create gateway pods: ${sentence(i.statefulSetFailedCreate)}`,
    });
  }
  const dep = i.deployment;
  const name = dep?.metadata?.name ?? "";
  for (const c of dep?.status?.conditions ?? []) {
    if (c.type === "ReplicaFailure" && c.status === "True") {
      out.push({
        reason: "FailedCreate",
        message: `The Deployment ${name} cannot create logic pods: ${sentence(c.message ?? c.reason ?? "")}`,
      });
    }
    if (c.type === "Progressing" && c.status === "False" && c.reason === "ProgressDeadlineExceeded") {
      out.push({
        reason: "ProgressDeadlineExceeded",
        message: `The Deployment ${name} made no progress within its deadline: ${sentence(c.message ?? "")}`,
      });
    }
  }
  for (const pod of i.unreadyPods) {
    const p = podProblem(pod);
    if (p !== undefined) out.push(p);
  }
  return out;
}

function podProblem(pod: V1Pod): Problem | undefined {
  const name = pod.metadata?.name ?? "";
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled?.status === "False" && scheduled.reason === "Unschedulable") {
    return {
      reason: "Unschedulable",
      message: `Pod ${name} cannot be scheduled: ${sentence(scheduled.message ?? "no node fits it")}`,
    };
  }
  for (const cs of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const waiting = cs.state?.waiting;
    const reason = waiting?.reason === undefined ? undefined : STUCK_WAITING[waiting.reason];
    if (reason !== undefined) {
      const detail = waiting?.message ? `: ${waiting.message}` : "";
      return {
        reason,
        message: `Pod ${name}, container ${cs.name}: ${sentence(`${waiting?.reason}${detail}`)}`,
      };
    }
  }
  return undefined;
}
