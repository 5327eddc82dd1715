// Logic's end of the push stream: what the composition root needs.

export type { GatewayFleetOptions, Http2ClientTuning } from "./fleet-options.ts";
// Internals shared with tests and benchmarks.
export { encodeDelivery, encodeReply } from "./frame-codec.ts";
export type { GatewayQueueStats, RunningGatewayFleet } from "./gateway-fleet-impl.ts";
export { createGatewayFleet } from "./gateway-fleet-impl.ts";
export type { DropReason, PushMetrics, ResetReason } from "./push-metrics.ts";
export { DROP_REASONS, RESET_REASONS } from "./push-metrics.ts";
