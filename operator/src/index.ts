// The operator's public surface, for the CLI, the chart's tests and tools.

// --- the resource
export type {
  ChatCluster,
  ChatClusterSpec,
  ChatClusterStatus,
  Condition,
  ConditionType,
} from "./api/chatcluster-types.ts";
export { API_VERSION, GROUP, KIND, PLURAL, VERSION } from "./api/chatcluster-types.ts";
export type { ResolvedSpec } from "./api/defaults.ts";
export { DEFAULTS, resolveSpec } from "./api/defaults.ts";
export type { OperatorConfig } from "./config.ts";
export { operatorFlags, validateOperatorConfig } from "./config.ts";
// --- desired state (pure)
export type { DesiredOptions, DesiredState } from "./desired/index.ts";
export { buildDesired } from "./desired/index.ts";
export type { ChildNames } from "./desired/names.ts";
export {
  CONFIG_HASH_ANNOTATION,
  childNames,
  FIELD_MANAGER,
  MANAGED_BY_LABEL,
  MANAGED_BY_SELECTOR,
  MANAGED_BY_VALUE,
  selectorLabels,
} from "./desired/names.ts";
export type { OperatorDeps, RunningOperator } from "./operator.ts";
export { OWNED_KINDS, startOperator } from "./operator.ts";
export { OperatorError, type OperatorErrorCode } from "./operator-error.ts";
// --- running it
export type { OperatorMetrics, ReconcileResult as ReconcileOutcome } from "./operator-metrics.ts";
export { createOperatorMetrics } from "./operator-metrics.ts";
export { computeStatus } from "./status.ts";
