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

export class OperatorError extends Error {
  override readonly name = "OperatorError";
  readonly code: OperatorErrorCode;
  readonly status: number | undefined;

  constructor(code: OperatorErrorCode, message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(`${code}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.status = opts.status;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof OperatorError && err.status === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof OperatorError && err.status === 409;
}
