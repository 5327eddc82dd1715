export type { ChatServiceDeps } from "./api-deps.ts";
export { createApiKeyCheck, loadApiKeys } from "./api-keys.ts";
export { createChatService } from "./chat-service.ts";
export { closeConnections } from "./connection-calls.ts";
export { type ServerApi, type ServerApiOptions, startServerApi } from "./start-server-api.ts";
