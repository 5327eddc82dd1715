export { AUTH_ERROR_CODES, AuthError, type AuthErrorCode } from "./auth-error.ts";
export { type AuthConfig, type Authenticator, createAuthenticator, type Identity } from "./authenticator.ts";
export {
  MIN_PRINCIPAL_KEY_BYTES,
  PRINCIPAL_CHECKS,
  type PrincipalCheck,
  PrincipalSeal,
  type PrincipalSealOptions,
  principalAccepted,
} from "./principal-seal.ts";
