/**
 * Why a send or a query failed: the outbox was full, the client closed, the
 * server refused for good (or did not answer a query), the query could not
 * even be queued (backlog_full: the app writes faster than the server's rate),
 * or a send was not acknowledged within the retry horizon (expired: it may or
 * may not have been stored, and it is not resent).
 */
export type ChatClientErrorCode = "outbox_full" | "closed" | "rejected" | "backlog_full" | "expired";

/** Raised by send() when the outbox is full, by queries without an answer, and by both on close(). */
export class ChatClientError extends Error {
  override readonly name = "ChatClientError";
  readonly code: ChatClientErrorCode;
  constructor(code: ChatClientErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

/** An `error` event: an error frame from the server, or why the client stopped. */
export interface ClientErrorEvent {
  code: string;
  message: string;
  id?: string;
}
