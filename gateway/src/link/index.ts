// The gateway's end of the push stream: what the composition root needs.

export { isLinkError, LINK_ERROR_CODES, LinkError, type LinkErrorCode } from "./link-error.ts";
export type { GatewayLinkMetrics } from "./link-metrics.ts";
export type { Http2ServerTuning, LogicLinkServer, LogicLinkServerOptions } from "./logic-link-server.ts";
export { createLogicLinkServer } from "./logic-link-server.ts";
