/**
 * The one error class of the WebSocket edge. Client-facing failures never
 * throw: they are error frames and close codes (protocol/). This is for the
 * composition root: bad limits and a client port that cannot be bound.
 */
export const EDGE_ERROR_CODES = ["invalid_limits", "listen_failed"] as const;
export type EdgeErrorCode = (typeof EDGE_ERROR_CODES)[number];

export class EdgeError extends Error {
  override readonly name = "EdgeError";
  readonly code: EdgeErrorCode;

  constructor(code: EdgeErrorCode, detail: string, cause?: unknown) {
    super(`${code}: ${detail}`, cause === undefined ? undefined : { cause });
    this.code = code;
  }
}
