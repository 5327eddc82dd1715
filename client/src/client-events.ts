import type { JoinedFrame, LeftFrame, MessageFrame, WelcomeFrame } from "../../protocol/client-frames.ts";
import type { DisconnectFrame, SubscribedFrame, UnsubscribedFrame } from "../../protocol/command-frames.ts";
import type {
  PresenceChangeFrame,
  ReadEventFrame,
  SignalEventFrame,
} from "../../protocol/presence-frames.ts";
import type { ClientErrorEvent } from "./client-error.ts";

// What a ChatClient tells the app: its state and the events it emits.

export type ClientState =
  /** Opening a socket (first time or after a backoff). */
  | "connecting"
  /** Socket open, auth sent, waiting for welcome. */
  | "authenticating"
  /** Welcome received: frames flow. */
  | "open"
  /** Lost the connection (or told to move); waiting to reconnect. */
  | "reconnecting"
  /** Stopped for good: close() was called or the server refused in a way retrying cannot fix. */
  | "closed";

export interface StateChange {
  state: ClientState;
  /** Close code that caused the change, when there was one. */
  code?: number;
  /** Delay before the next attempt, for "reconnecting". */
  retryInMs?: number;
}

export interface ChatClientEvents extends Record<string, unknown> {
  message: MessageFrame;
  state: StateChange;
  joined: JoinedFrame;
  /** The server ended a membership: `reason` `forbidden` (a refreshed token no longer grants the room). Not re-joined. */
  left: LeftFrame;
  error: ClientErrorEvent;
  welcome: WelcomeFrame;
  /** Someone joined or left a room this client joined with `presence: true`. */
  presence: PresenceChangeFrame;
  /** An ephemeral signal from another connection (this client's own are dropped). */
  signal: SignalEventFrame;
  /** A member's read marker moved. */
  read: ReadEventFrame;
  /** The team's backend made this connection a member of a room (server API Subscribe). */
  subscribed: SubscribedFrame;
  /** The team's backend took this connection out of a room (server API Unsubscribe). */
  unsubscribed: UnsubscribedFrame;
  /** The server is about to close this connection for the team's backend (Disconnect, Ban, RevokeToken). */
  disconnect: DisconnectFrame;
}
