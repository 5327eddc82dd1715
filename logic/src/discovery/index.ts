export type { Discovery, DiscoveryEvents, GatewayEndpoint } from "./discovery.ts";
export { parseEndpoint, parseEndpoints, sameEndpoints } from "./discovery.ts";
export type { FileDiscoveryOptions } from "./file-discovery.ts";
export { FileDiscovery } from "./file-discovery.ts";
export { StaticDiscovery } from "./static-discovery.ts";
