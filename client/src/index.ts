// ChatCluster client SDK (browsers and Node 24+). See client/README.md.

export type { BackoffOptions } from "../../protocol/backoff.ts";
export type {
  AckFrame,
  ErrorFrame,
  JoinedFrame,
  MessageFrame,
  WelcomeFrame,
} from "../../protocol/client-frames.ts";
export { CLOSE_CODES } from "../../protocol/close-codes.ts";
export type {
  PresenceChangeFrame,
  PresencePageFrame,
  ReadEventFrame,
  ReadsPageFrame,
  SignalEventFrame,
} from "../../protocol/presence-frames.ts";
export type {
  ChatClientEvents,
  ChatClientOptions,
  ClientErrorEvent,
  ClientState,
  StateChange,
  WebSocketConstructor,
  WebSocketLike,
} from "./chat-client.ts";
export { ChatClient, ChatClientError } from "./chat-client.ts";
