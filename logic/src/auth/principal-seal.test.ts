import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import * as fc from "fast-check";
import { type Principal, PrincipalSchema } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { PrincipalSeal, principalAccepted } from "./principal-seal.ts";

const K1 = "principal-key-one-0123456789abcdef";
const K2 = "principal-key-two-0123456789abcdef";
const GW = { id: "gateway-0", epoch: "e1" };
const seal = (key: string, previousKey = "", acceptUnsigned = false) =>
  new PrincipalSeal({ key, previousKey, acceptUnsigned });
const alice = () =>
  create(PrincipalSchema, { userId: "alice", read: ["team.>"], write: ["team.a"], expiresAtMs: 123n });

test("a signed principal verifies only on the connection, gateway and epoch it was issued to", () => {
  const s = seal(K1);
  const p = alice();
  s.sign(p, GW, 7);
  assert.equal(p.signature.byteLength, 32);
  assert.equal(s.verify(p, GW, 7), "ok");
  assert.equal(s.verify(p, GW, 8), "bad_signature", "another connection");
  assert.equal(s.verify(p, { ...GW, epoch: "e2" }, 7), "bad_signature", "a later process of the gateway");
  assert.equal(s.verify(p, { ...GW, id: "gateway-1" }, 7), "bad_signature", "another gateway");
  assert.equal(seal(K2).verify(p, GW, 7), "bad_signature", "another key");
});

test("changing any field of a signed principal breaks the signature", () => {
  const s = seal(K1);
  const text = fc.string({ maxLength: 12 });
  const change = fc.oneof(
    text.map((v) => (p: Principal) => {
      p.userId = `${p.userId}${v}x`;
    }),
    text.map((v) => (p: Principal) => {
      p.read.push(v);
    }),
    text.map((v) => (p: Principal) => {
      p.write = [...p.write, v];
    }),
    fc.constant((p: Principal) => {
      p.write = [];
    }),
    // Moving an entry between lists, or joining two, must not keep the MAC.
    fc.constant((p: Principal) => {
      p.read = [...p.read, ...p.write];
      p.write = [];
    }),
    fc.constant((p: Principal) => {
      p.read = [p.read.join(",")];
    }),
    // Revoking a token closes the connections whose principal names it: the id must not be swapped or dropped.
    text.map((v) => (p: Principal) => {
      p.tokenId = `${p.tokenId}${v}x`;
    }),
    fc.constant((p: Principal) => {
      p.tokenId = "";
    }),
    fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map((v) => (p: Principal) => {
      p.expiresAtMs = v === p.expiresAtMs ? v + 1n : v;
    }),
  );
  fc.assert(
    fc.property(change, (mutate) => {
      const p = create(PrincipalSchema, {
        userId: "bob",
        read: ["a", "b"],
        write: ["c"],
        expiresAtMs: 99n,
        tokenId: "jti-1",
      });
      s.sign(p, GW, 1);
      mutate(p);
      assert.equal(s.verify(p, GW, 1), "bad_signature");
    }),
    { numRuns: 300 },
  );
});

test("a rotation: the previous key verifies but never signs", () => {
  const before = alice();
  seal(K1).sign(before, GW, 7);
  const rotating = seal(K2, K1);
  assert.equal(rotating.verify(before, GW, 7), "ok_previous_key");
  const after = alice();
  rotating.sign(after, GW, 7);
  assert.equal(seal(K2).verify(after, GW, 7), "ok", "signed with the new key");
  assert.equal(seal(K2).verify(before, GW, 7), "bad_signature", "the old key is gone after the rotation");
});

test("missing signatures are refused unless signing is off or being turned on", () => {
  const p = alice();
  assert.equal(seal(K1).verify(p, GW, 7), "missing_signature");
  assert.equal(seal(K1, "", true).verify(p, GW, 7), "unsigned_accepted");
  assert.equal(seal("").verify(p, GW, 7), "unchecked");
  seal("").sign(p, GW, 7);
  assert.equal(p.signature.byteLength, 0, "no key, no signature");
  assert.equal(principalAccepted("missing_signature"), false);
  assert.equal(principalAccepted("bad_signature"), false);
  assert.equal(principalAccepted("ok_previous_key"), true);
  // A garbage signature of any length is refused, never thrown on.
  p.signature = new Uint8Array([1, 2, 3]);
  assert.equal(seal(K1).verify(p, GW, 7), "bad_signature");
});

test("short keys and a previous key without a key are refused", () => {
  assert.throws(() => seal("short"), /at least 32 bytes/);
  assert.throws(() => seal(K1, "short"), /at least 32 bytes/);
  assert.throws(() => seal("", K1), /need a key/);
  assert.throws(() => seal("", "", true), /need a key/);
});

test("a frozen principal's accepted check is remembered for its connection only; others are checked each time", () => {
  const s = seal(K1);
  const p = alice();
  s.sign(p, GW, 7);
  const frozen = Object.freeze({
    ...p,
    read: Object.freeze([...p.read]),
    write: Object.freeze([...p.write]),
  });
  assert.equal(s.verify(frozen as Principal, GW, 7), "ok");
  assert.equal(s.verify(frozen as Principal, GW, 7), "ok", "remembered");
  assert.equal(s.verify(frozen as Principal, GW, 8), "bad_signature", "another connection is checked anew");
  assert.equal(s.verify(frozen as Principal, { ...GW, epoch: "e2" }, 7), "bad_signature");
  // A principal that can still change is never remembered.
  assert.equal(s.verify(p, GW, 7), "ok");
  p.userId = "mallory";
  assert.equal(s.verify(p, GW, 7), "bad_signature");
});
