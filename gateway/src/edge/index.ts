// The gateway's WebSocket edge: what the composition root and the push-stream layer use.

// Internals exported for tests and benchmarks.
export { planReconnectDelays } from "./drain-plan.ts";
export type { Edge, EdgeOptions, EdgeStats } from "./edge.ts";
export { createEdge } from "./edge.ts";
export type { EdgeErrorCode } from "./edge-error.ts";
export { EDGE_ERROR_CODES, EdgeError } from "./edge-error.ts";
export type { EdgeLimits } from "./edge-limits.ts";
export { DEFAULT_EDGE_LIMITS, resolveEdgeLimits } from "./edge-limits.ts";
export type { GatewayMetrics } from "./gateway-metrics.ts";
export { createGatewayMetrics } from "./gateway-metrics.ts";
export { frameText } from "./ws-frame.ts";
