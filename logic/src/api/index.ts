export { createApiKeyCheck, loadApiKeys } from "./api-keys.ts";
export { type ChatServiceDeps, createChatService } from "./chat-service.ts";
export { type ServerApi, type ServerApiOptions, startServerApi } from "./start-server-api.ts";
