/**
 * The operator's one error type. `code` is stable for logs, metrics and tests;
 * `status` carries the HTTP status when the API server answered.
 */
export type OperatorErrorCode =
  | "api_error" // the API server refused a request (status set)
  | "api_unreachable" // no HTTP response at all (connection refused, reset, timeout)
  | "conflict" // optimistic concurrency lost (409 on update)
  | "not_found"
  | "invalid_config";

/** What the API server said, kept apart from the raw message so it can be told in words (api-error-summary.ts). */
export interface ApiAnswer {
  method: string;
  path: string;
  /** metav1.Status reason: Invalid, Forbidden, NotFound, Conflict, AlreadyExists, TooManyRequests... */
  reason?: string;
  /** metav1.Status message, or the start of a non-JSON body. */
  message: string;
}

export class OperatorError extends Error {
  override readonly name = "OperatorError";
  readonly code: OperatorErrorCode;
  readonly status: number | undefined;
  readonly answer: ApiAnswer | undefined;

  constructor(
    code: OperatorErrorCode,
    message: string,
    opts: { status?: number; cause?: unknown; answer?: ApiAnswer } = {},
  ) {
    super(`${code}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.status = opts.status;
    this.answer = opts.answer;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof OperatorError && err.status === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof OperatorError && err.status === 409;
}
