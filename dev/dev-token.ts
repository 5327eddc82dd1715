import { SignJWT } from "jose";

/** Lifetime of a development token: long enough for a session at the keyboard. */
export const DEV_TOKEN_TTL_SECONDS = 12 * 60 * 60;

const NAME = /^[A-Za-z0-9_.-]{1,32}$/;

export class DevTokenError extends Error {
  override readonly name = "DevTokenError";
}

/**
 * Signs an HS256 token for a user name that may read and write every room.
 * Only the local stack serves this; a deployed cluster has no such endpoint.
 */
export async function signDevToken(secret: string, user: string, nowMs = Date.now()): Promise<string> {
  if (!NAME.test(user)) throw new DevTokenError("name: 1-32 characters of A-Z a-z 0-9 _ . -");
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ rooms: { read: [">"], write: [">"] } })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(user)
    .setIssuedAt(iat)
    .setExpirationTime(iat + DEV_TOKEN_TTL_SECONDS)
    .sign(new TextEncoder().encode(secret));
}
