// ChatCluster client SDK (browsers and Node 24+). See client/README.md.

export type { BackoffOptions } from "../../protocol/backoff.ts";
export type { ResultFrame } from "../../protocol/call-frames.ts";
export type {
  AckFrame,
  ErrorFrame,
  JoinedFrame,
  LeftFrame,
  LeftReason,
  MessageFrame,
  WelcomeFrame,
} from "../../protocol/client-frames.ts";
export { CLOSE_CODES } from "../../protocol/close-codes.ts";
export type { DisconnectFrame, SubscribedFrame, UnsubscribedFrame } from "../../protocol/command-frames.ts";
export type {
  PresenceChangeFrame,
  PresencePageFrame,
  ReadEventFrame,
  ReadsPageFrame,
  SignalEventFrame,
} from "../../protocol/presence-frames.ts";
export type { ChatClientOptions } from "./chat-client.ts";
export { ChatClient } from "./chat-client.ts";
export type { ChatClientErrorCode, ClientErrorEvent } from "./client-error.ts";
export { ChatClientError } from "./client-error.ts";
export type { ChatClientEvents, ClientState, StateChange } from "./client-events.ts";
export type { WebSocketConstructor, WebSocketLike } from "./websocket-like.ts";
