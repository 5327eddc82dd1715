export { type AdmissionOptions, AppendAdmission } from "./append-admission.ts";
export { boundStore, type StoreBounds } from "./bounded-store.ts";
export { createHandlers } from "./create-handlers.ts";
export type { HandlerDeps, HandlerLimits } from "./handler-context.ts";
export {
  API_METHODS,
  API_RESULTS,
  type ApiMethod,
  type ApiResult,
  createLogicMetrics,
  EVENT_KINDS,
  EVENT_RESULTS,
  type EventKind,
  type EventResult,
  type LogicMetrics,
} from "./logic-metrics.ts";
