import { Code, ConnectError } from "@connectrpc/connect";

/** Stable codes of the gateway link, each with the Connect code a peer sees. */
export const LINK_ERROR_CODES = {
  /** The shared secret header is missing or wrong. */
  unauthenticated: Code.Unauthenticated,
  /** The first frame was not a LogicHello, or it speaks another protocol version. */
  bad_hello: Code.FailedPrecondition,
  /** No LogicHello within helloTimeoutMs. */
  hello_timeout: Code.DeadlineExceeded,
  /** A frame that does not decode as a LogicFrame. */
  malformed_frame: Code.InvalidArgument,
  /** The gateway is shutting down. */
  shutting_down: Code.Unavailable,
} as const;
export type LinkErrorCode = keyof typeof LINK_ERROR_CODES;

/**
 * The one error class of the gateway link. It is a ConnectError, so thrown at
 * the RPC boundary it reaches logic as a gRPC status whose message starts with
 * the stable code: `[invalid_argument] malformed_frame: ...`.
 */
export class LinkError extends ConnectError {
  // The name stays "ConnectError": ConnectError's Symbol.hasInstance, which
  // Connect uses to keep our code instead of mapping the error to UNKNOWN,
  // accepts subclasses only by that name. Use isLinkError() to tell ours apart.
  readonly linkCode: LinkErrorCode;

  constructor(linkCode: LinkErrorCode, detail: string, cause?: unknown) {
    super(`${linkCode}: ${detail}`, LINK_ERROR_CODES[linkCode], undefined, undefined, cause);
    this.linkCode = linkCode;
  }
}

/** True for a LinkError (instanceof cannot tell it from other ConnectErrors). */
export function isLinkError(err: unknown): err is LinkError {
  return err instanceof ConnectError && typeof (err as { linkCode?: unknown }).linkCode === "string";
}
