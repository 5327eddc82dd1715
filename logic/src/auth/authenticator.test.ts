import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { CLOSE_CODES } from "../../../protocol/index.ts";
import { AuthError } from "./auth-error.ts";
import { type AuthConfig, createAuthenticator } from "./authenticator.ts";

const dir = mkdtempSync(join(tmpdir(), "chatcluster-auth-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = "0123456789abcdef0123456789abcdef-test";
const base: AuthConfig = {
  jwtSecret: "",
  jwtSecretFile: "",
  jwtPublicKeyFile: "",
  jwtJwksFile: "",
  jwtIssuer: "",
  jwtAudience: [],
  jwtClockTolerance: 0,
};
const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: JWTPayload = {}): JWTPayload => ({
  sub: "alice",
  exp: now() + 600,
  rooms: { read: ["lobby", "team.>"], write: ["lobby"] },
  ...extra,
});

async function hs256(payload: JWTPayload, secret = SECRET): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(secret));
}

function rejectsWith(code: string, closeCode?: number): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof AuthError, String(err));
    assert.equal(err.code, code);
    if (closeCode !== undefined) assert.equal(err.closeCode, closeCode);
    return true;
  };
}

describe("authenticator: HS256", async () => {
  const secretFile = join(dir, "secret");
  writeFileSync(secretFile, `${SECRET}\n`);
  const auth = await createAuthenticator({
    ...base,
    jwtSecretFile: secretFile,
    jwtIssuer: "me",
    jwtAudience: ["chat"],
  });
  after(() => auth.close());

  it("accepts a valid token and returns the identity", async () => {
    const exp = now() + 600;
    const id = await auth.verify(await hs256(claims({ iss: "me", aud: "chat", exp })));
    assert.deepEqual(id, {
      userId: "alice",
      read: ["lobby", "team.>"],
      write: ["lobby"],
      expiresAtMs: exp * 1000,
      tokenId: "",
    });
    const withJti = await auth.verify(await hs256(claims({ iss: "me", aud: "chat", exp, jti: "t-42" })));
    assert.equal(withJti.tokenId, "t-42");
    await assert.rejects(
      auth.verify(await hs256(claims({ iss: "me", aud: "chat", exp, jti: 7 as unknown as string }))),
      rejectsWith("claims_invalid"),
    );
  });

  it("keeps whole milliseconds of an expiry with a fraction of a second", async () => {
    const exp = now() + 600.0004567;
    const id = await auth.verify(await hs256(claims({ iss: "me", aud: "chat", exp })));
    assert.equal(id.expiresAtMs, Math.floor(exp * 1000));
    assert.ok(Number.isInteger(id.expiresAtMs));
    assert.doesNotThrow(() => BigInt(id.expiresAtMs));
  });

  it("refuses bad tokens with stable codes and close codes", async () => {
    const ok = { iss: "me", aud: "chat" };
    await assert.rejects(auth.verify(""), rejectsWith("token_missing", CLOSE_CODES.unauthorized.code));
    await assert.rejects(auth.verify("not.a.jwt"), rejectsWith("token_malformed"));
    await assert.rejects(
      auth.verify(await hs256(claims(ok), `${SECRET}-other`)),
      rejectsWith("token_invalid"),
    );
    await assert.rejects(
      auth.verify(await hs256(claims({ ...ok, exp: now() - 10 }))),
      rejectsWith("token_expired", CLOSE_CODES.tokenExpired.code),
    );
    await assert.rejects(
      auth.verify(await hs256(claims({ ...ok, nbf: now() + 60 }))),
      rejectsWith("token_not_yet_valid"),
    );
    await assert.rejects(
      auth.verify(await hs256(claims({ ...ok, iss: "other" }))),
      rejectsWith("claims_invalid"),
    );
    await assert.rejects(
      auth.verify(await hs256(claims({ ...ok, aud: "other" }))),
      rejectsWith("claims_invalid"),
    );
    await assert.rejects(
      auth.verify(await hs256(claims({ ...ok, sub: undefined }))),
      rejectsWith("claims_invalid"),
    );
    await assert.rejects(
      auth.verify(await hs256(claims({ ...ok, exp: undefined }))),
      rejectsWith("claims_invalid"),
    );
    await assert.rejects(
      auth.verify(await hs256(claims({ ...ok, rooms: { read: ["a.>.b"] } }))),
      rejectsWith("claims_invalid"),
    );
    await assert.rejects(
      auth.verify(await hs256(claims({ ...ok, rooms: ["x"] }))),
      rejectsWith("claims_invalid"),
    );
    // alg "none" (unsecured JWT) is never accepted.
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims(ok))).toString("base64url")}.`;
    await assert.rejects(auth.verify(none), rejectsWith("token_invalid"));
  });

  it("never puts the token in an error message", async () => {
    const token = await hs256(claims({ iss: "me", aud: "chat", exp: now() - 10 }));
    const err = await auth.verify(token).catch((e: unknown) => e);
    assert.ok(err instanceof AuthError);
    assert.ok(!err.message.includes(token) && !err.message.includes(token.split(".")[1] as string));
  });
});

describe("authenticator: public keys", () => {
  for (const alg of ["RS256", "ES256"] as const) {
    it(`verifies ${alg} with a PEM public key and refuses HS256 tokens`, async () => {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const file = join(dir, `${alg}.pem`);
      const pem = await exportSPKI(publicKey);
      writeFileSync(file, pem);
      const auth = await createAuthenticator({ ...base, jwtPublicKeyFile: file });
      const token = await new SignJWT(claims()).setProtectedHeader({ alg }).sign(privateKey);
      assert.equal((await auth.verify(token)).userId, "alice");
      // Algorithm confusion: the public key text used as an HMAC secret.
      await assert.rejects(auth.verify(await hs256(claims(), pem)), rejectsWith("token_invalid"));
    });
  }

  it("verifies with a JWKS file and picks up a changed file", async () => {
    const k1 = await generateKeyPair("ES256", { extractable: true });
    const k2 = await generateKeyPair("RS256", { extractable: true });
    const jwk = async (k: CryptoKey, kid: string, alg: string) => ({
      ...(await exportJWK(k)),
      kid,
      alg,
      use: "sig",
    });
    const file = join(dir, "jwks.json");
    writeFileSync(file, JSON.stringify({ keys: [await jwk(k1.publicKey, "k1", "ES256")] }));
    const auth = await createAuthenticator({ ...base, jwtJwksFile: file });
    try {
      const t1 = await new SignJWT(claims())
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .sign(k1.privateKey);
      const t2 = await new SignJWT(claims())
        .setProtectedHeader({ alg: "RS256", kid: "k2" })
        .sign(k2.privateKey);
      assert.equal((await auth.verify(t1)).userId, "alice");
      await assert.rejects(auth.verify(t2), rejectsWith("token_invalid"));
      writeFileSync(file, JSON.stringify({ keys: [await jwk(k2.publicKey, "k2", "RS256")] }));
      let accepted = false;
      for (let i = 0; i < 100 && !accepted; i++) {
        accepted = await auth.verify(t2).then(
          () => true,
          () => false,
        );
        if (!accepted) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(accepted, "rotated key not picked up");
      await assert.rejects(auth.verify(t1), rejectsWith("token_invalid"));
    } finally {
      auth.close();
    }
  });
});
