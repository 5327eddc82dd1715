/**
 * The store's one error type. Codes are stable strings that handlers map to
 * client `error` frames and the server API maps to Connect codes.
 */
export type StoreErrorCode =
  /** The backing store cannot be reached or did not answer in time. Retryable. */
  | "store_unavailable"
  /** Too many concurrent writers raced for the same room; the append did not happen. Retryable. */
  | "store_conflict"
  /** The store was closed (the process is shutting down). Retryable on another process. */
  | "store_closed"
  /** This process has too many store operations in flight and queued. Retryable. */
  | "overloaded"
  /** The room name, id or body cannot be stored as given. Not retryable. */
  | "invalid_argument";

const RETRYABLE: Readonly<Record<StoreErrorCode, boolean>> = {
  store_unavailable: true,
  store_conflict: true,
  store_closed: true,
  overloaded: true,
  invalid_argument: false,
};

export const STORE_ERROR_CODES: readonly StoreErrorCode[] = Object.keys(RETRYABLE) as StoreErrorCode[];

export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly code: StoreErrorCode;
  readonly retryable: boolean;

  constructor(code: StoreErrorCode, message: string, options?: ErrorOptions) {
    super(`[${code}] ${message}`, options);
    this.code = code;
    this.retryable = RETRYABLE[code];
  }
}

/**
 * A backend failure as a StoreError: every SQLite or NATS failure (busy past
 * the timeout, I/O, disk full, no responders, timeout) is worth retrying
 * elsewhere or later, so it becomes `store_unavailable`; a StoreError passes
 * through unchanged.
 */
export function backendFailure(backend: "sqlite" | "nats", err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const detail =
    err instanceof Error ? (backend === "nats" ? `${err.name}: ${err.message}` : err.message) : String(err);
  return new StoreError("store_unavailable", `${backend}: ${what}: ${detail}`, { cause: err });
}
