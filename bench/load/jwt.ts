// HS256 tokens for load generators, signed with node:crypto directly: a
// 100,000-connection run signs 100,000 of them.
import { createHmac } from "node:crypto";

const HEADER = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");

/** A token for `user` that may read and write every room, valid for `ttlS` seconds. */
export function signLoadToken(secret: string, user: string, ttlS = 6 * 3600): string {
  const iat = Math.floor(Date.now() / 1000);
  const payload = Buffer.from(
    JSON.stringify({ sub: user, rooms: { read: [">"], write: [">"] }, iat, exp: iat + ttlS }),
  ).toString("base64url");
  const sig = createHmac("sha256", secret).update(`${HEADER}.${payload}`).digest("base64url");
  return `${HEADER}.${payload}.${sig}`;
}
