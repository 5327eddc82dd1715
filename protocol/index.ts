// Client protocol v1: frame types, close codes, error codes, limits and the
// builders that serialize server frames once. See docs/protocol.md.

export type { CallFrame, ResultFrame } from "./call-frames.ts";
export { CALL_BOUNDS, encodeResultFrame, METHOD_PATTERN } from "./call-frames.ts";
export type {
  AckFrame,
  AuthFrame,
  ClientFrame,
  ErrorCode,
  ErrorFrame,
  ErrorFrameInput,
  JoinedFrame,
  JoinedFrameInput,
  JoinFrame,
  JsonText,
  LeaveFrame,
  LeftFrame,
  LeftReason,
  MessageFrame,
  MessageFrameInput,
  PingFrame,
  PongFrame,
  ReconnectFrame,
  SendFrame,
  ServerFrame,
  WelcomeFrame,
  WireLimits,
} from "./client-frames.ts";
export {
  DEFAULT_WIRE_LIMITS,
  ERROR_CODES,
  encodeAckFrame,
  encodeErrorFrame,
  encodeJoinedFrame,
  encodeLeftFrame,
  encodeMessageFrame,
  encodePongFrame,
  encodeReconnectFrame,
  encodeWelcomeFrame,
  isRetryableError,
  PROTOCOL_BOUNDS,
  ROOM_PATTERN,
  SUBPROTOCOL,
} from "./client-frames.ts";
export type { CloseCode, CloseCodeKey, ReconnectPolicy } from "./close-codes.ts";
export { CLOSE_CODE_NAMES, CLOSE_CODES, closeCodeByNumber, closeCodeName } from "./close-codes.ts";
export type { DisconnectFrame, SubscribedFrame, UnsubscribedFrame } from "./command-frames.ts";
export { encodeDisconnectFrame, encodeSubscribedFrame, encodeUnsubscribedFrame } from "./command-frames.ts";
export type { DeleteFrame, EditFrame } from "./edit-frames.ts";
export { parseClientFrame } from "./parse-client-frame.ts";
export type { ParseResult } from "./parse-result.ts";
export type {
  PresenceChangeFrame,
  PresencePageFrame,
  PresenceQueryFrame,
  ReadEventFrame,
  ReadFrame,
  ReadsPageFrame,
  ReadsQueryFrame,
  SignalEventFrame,
  SignalFrame,
} from "./presence-frames.ts";
export {
  encodePresenceChangeFrame,
  encodePresencePageFrame,
  encodeReadEventFrame,
  encodeReadsPageFrame,
  encodeSignalFrame,
  PRESENCE_BOUNDS,
  PRESENCE_INTEREST_SUFFIX,
  presenceInterestKey,
  SIGNAL_KIND_PATTERN,
  userInterestKey,
} from "./presence-frames.ts";
