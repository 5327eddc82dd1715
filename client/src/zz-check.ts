import WebSocket from "ws";
import type { WebSocketConstructor } from "./chat-client.ts";
const a: WebSocketConstructor = WebSocket;
void a;
