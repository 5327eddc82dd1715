import { CLOSE_CODES } from "../../../protocol/index.ts";

/**
 * Why a token or a principal was refused. Each code maps to one WebSocket
 * close code in one table, so the gateway closes with the same code for the
 * same reason everywhere and metrics have a bounded label set.
 */
export type AuthErrorCode =
  /** No token, or longer than the protocol allows. */
  | "token_missing"
  /** Not a compact JWS, or its header or payload is not JSON. */
  | "token_malformed"
  /** Signature wrong, algorithm not allowed, or no key for its `kid`. */
  | "token_invalid"
  /** `exp` has passed (at auth, or re-checked on a later event). */
  | "token_expired"
  /** `nbf` is in the future. */
  | "token_not_yet_valid"
  /** Issuer, audience, `sub`, `exp` or the `rooms` claim is missing or wrong. */
  | "claims_invalid"
  /** A refreshed token names a different user than the connection's. */
  | "subject_mismatch"
  /** An event other than auth arrived without a principal. */
  | "unauthenticated"
  /** An event's principal lacks logic's signature or does not match it (docs/logic.md). */
  | "principal_invalid"
  /** The verification key could not be loaded (our fault, not the client's). */
  | "key_unavailable"
  /** The user is banned (server API Ban) until the ban ends, whatever the token. */
  | "banned"
  /** The token's `jti` was revoked (server API RevokeToken). */
  | "token_revoked";

const CLOSE: Readonly<Record<AuthErrorCode, number>> = {
  token_missing: CLOSE_CODES.unauthorized.code,
  token_malformed: CLOSE_CODES.unauthorized.code,
  token_invalid: CLOSE_CODES.unauthorized.code,
  token_expired: CLOSE_CODES.tokenExpired.code,
  token_not_yet_valid: CLOSE_CODES.unauthorized.code,
  claims_invalid: CLOSE_CODES.unauthorized.code,
  subject_mismatch: CLOSE_CODES.unauthorized.code,
  unauthenticated: CLOSE_CODES.unauthorized.code,
  principal_invalid: CLOSE_CODES.unauthorized.code,
  key_unavailable: CLOSE_CODES.internalError.code,
  banned: CLOSE_CODES.banned.code,
  token_revoked: CLOSE_CODES.unauthorized.code,
};

export const AUTH_ERROR_CODES: readonly AuthErrorCode[] = Object.keys(CLOSE) as AuthErrorCode[];

export class AuthError extends Error {
  override readonly name = "AuthError";
  readonly code: AuthErrorCode;
  /** The WebSocket close code the gateway closes the connection with. */
  readonly closeCode: number;

  /** `message` is shown to the client: it must never contain the token. */
  constructor(code: AuthErrorCode, message: string, options?: ErrorOptions) {
    super(`[${code}] ${message}`, options);
    this.code = code;
    this.closeCode = CLOSE[code];
  }

  /** The message without the code prefix, for AuthResult.error_message. */
  get reason(): string {
    return this.message.slice(this.code.length + 3);
  }
}
