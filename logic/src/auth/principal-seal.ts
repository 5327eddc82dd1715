import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import type { Principal } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { GatewayRef } from "../gateway-fleet.ts";

/** Shortest key accepted: HMAC-SHA256 gains nothing from more, and less would be guessable. */
export const MIN_PRINCIPAL_KEY_BYTES = 32;

/**
 * What the check of an event's principal found. The first four let the event
 * through; the last two refuse it.
 * - ok: signed with the current key.
 * - ok_previous_key: signed with the previous key (a rotation is under way).
 * - unsigned_accepted: no signature, and acceptUnsigned is on (signing is being turned on).
 * - unchecked: signing is off (no key configured).
 * - missing_signature: no signature.
 * - bad_signature: a signature no key of ours made for this principal on this connection.
 */
export type PrincipalCheck =
  | "ok"
  | "ok_previous_key"
  | "unsigned_accepted"
  | "unchecked"
  | "missing_signature"
  | "bad_signature";
export const PRINCIPAL_CHECKS: readonly PrincipalCheck[] = [
  "ok",
  "ok_previous_key",
  "unsigned_accepted",
  "unchecked",
  "missing_signature",
  "bad_signature",
];

export interface PrincipalSealOptions {
  /** Signs every principal logic issues, and verifies. Empty: signing is off. */
  readonly key: string;
  /** Also verifies (never signs) during a rotation. Empty: none. */
  readonly previousKey: string;
  /** Lets principals without a signature through (while turning signing on across a running cluster). */
  readonly acceptUnsigned: boolean;
}

/**
 * Logic's seal on the principals it issues. The gateway keeps a principal
 * with its connection and attaches it to every later event, so logic needs no
 * per-connection state; the seal keeps a gateway (or anything that reached
 * logic as one) from making up or changing a principal: an HMAC-SHA256, under
 * a key only logic processes hold, over the principal and the connection it
 * was issued to (gateway id, gateway epoch, connection id). A principal moved
 * to another connection, another gateway or a later process of the same
 * gateway no longer verifies.
 */
export class PrincipalSeal {
  readonly #key: KeyObject | undefined;
  readonly #previous: KeyObject | undefined;
  readonly #acceptUnsigned: boolean;
  /**
   * The accepted check of a frozen principal object, with the connection it
   * was checked for. The link decodes every event's principal through a memo
   * keyed by its exact bytes and freezes it (logic/src/link/principal-memo.ts),
   * so one object stands for one encoding that cannot change: the HMAC runs
   * once per principal and connection instead of once per event. Weak: an
   * entry lives as long as the memo keeps its principal.
   */
  readonly #accepted = new WeakMap<
    Principal,
    { gateway: string; epoch: string; connectionId: number; check: PrincipalCheck }
  >();

  constructor(o: PrincipalSealOptions) {
    for (const [name, k] of [
      ["key", o.key],
      ["previousKey", o.previousKey],
    ] as const) {
      if (k !== "" && Buffer.byteLength(k) < MIN_PRINCIPAL_KEY_BYTES)
        throw new RangeError(`principal seal: ${name} needs at least ${MIN_PRINCIPAL_KEY_BYTES} bytes`);
    }
    if (o.key === "" && (o.previousKey !== "" || o.acceptUnsigned))
      throw new RangeError("principal seal: previousKey and acceptUnsigned need a key");
    this.#key = o.key === "" ? undefined : createSecretKey(Buffer.from(o.key));
    this.#previous = o.previousKey === "" ? undefined : createSecretKey(Buffer.from(o.previousKey));
    this.#acceptUnsigned = o.acceptUnsigned;
  }

  /** False when no key is configured: principals go out unsigned and events are not checked. */
  get enabled(): boolean {
    return this.#key !== undefined;
  }

  /** Sets `p.signature` for the connection `connectionId` of gateway process `to`. */
  sign(p: Principal, to: GatewayRef, connectionId: number): void {
    if (this.#key === undefined) return;
    p.signature = mac(this.#key, p, to, connectionId);
  }

  /** Checks the principal an event of connection `connectionId` carried from gateway process `from`. */
  verify(p: Principal, from: GatewayRef, connectionId: number): PrincipalCheck {
    if (this.#key === undefined) return "unchecked";
    const seen = this.#accepted.get(p);
    if (
      seen !== undefined &&
      seen.connectionId === connectionId &&
      seen.gateway === from.id &&
      seen.epoch === from.epoch
    )
      return seen.check;
    const check = this.#check(p, from, connectionId);
    if (principalAccepted(check) && Object.isFrozen(p))
      this.#accepted.set(p, { gateway: from.id, epoch: from.epoch, connectionId, check });
    return check;
  }

  #check(p: Principal, from: GatewayRef, connectionId: number): PrincipalCheck {
    const key = this.#key as KeyObject;
    if (p.signature.byteLength === 0) return this.#acceptUnsigned ? "unsigned_accepted" : "missing_signature";
    if (same(p.signature, mac(key, p, from, connectionId))) return "ok";
    if (this.#previous !== undefined && same(p.signature, mac(this.#previous, p, from, connectionId)))
      return "ok_previous_key";
    return "bad_signature";
  }
}

/** True for the checks that let an event through. */
export function principalAccepted(c: PrincipalCheck): boolean {
  return c !== "missing_signature" && c !== "bad_signature";
}

/**
 * The MAC over every field of the principal and the connection it belongs to.
 * JSON of an array is an unambiguous encoding of strings and lists (no
 * separator can be forged inside a field), and it does not depend on how a
 * gateway re-serializes the protobuf message. The version tag lets the
 * encoding change later without a signature of one meaning another.
 */
function mac(key: KeyObject, p: Principal, g: GatewayRef, connectionId: number): Uint8Array {
  const text = JSON.stringify([
    "chatcluster.principal.v1",
    g.id,
    g.epoch,
    connectionId,
    p.userId,
    p.read,
    p.write,
    String(p.expiresAtMs),
    // Only when there is one, so a principal without a `jti` signs as it did before token ids.
    ...(p.tokenId === "" ? [] : [p.tokenId]),
  ]);
  return createHmac("sha256", key).update(text).digest();
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}
