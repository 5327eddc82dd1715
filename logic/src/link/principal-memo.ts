import { fromBinary } from "@bufbuild/protobuf";
import { type Principal, PrincipalSchema } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";

/**
 * Principals most recently decoded here; beyond this many, the least recently
 * seen is forgotten (decoded again when it comes back). About 200 bytes each
 * for a typical principal (user id, a few room patterns, a 32-byte
 * signature), so at most a few MB whatever the number of connections.
 */
export const DEFAULT_PRINCIPAL_MEMO_ENTRIES = 16_384;

/**
 * Decoded principals by their exact bytes. Every event of a connection
 * carries the same principal bytes; decoding them once per connection rather
 * than once per event saves the generated decoder's work and, more, gives the
 * event the same Principal object each time, so PrincipalSeal can remember
 * that object's check (one HMAC per principal and connection, not per event).
 *
 * Keyed by the bytes themselves (signature included), so two principals that
 * differ in any field are two entries: the memo never makes one principal
 * stand for another. The objects are shared and frozen.
 *
 * It is a cache, bounded in entries, not per-connection state: an idle
 * connection sends no events and takes no entry.
 */
export class PrincipalMemo {
  readonly #max: number;
  readonly #byBytes = new Map<string, Principal>();

  constructor(maxEntries = DEFAULT_PRINCIPAL_MEMO_ENTRIES) {
    if (!(maxEntries >= 1)) throw new RangeError("principal memo: maxEntries must be at least 1");
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#byBytes.size;
  }

  /** The Principal encoded in buf[start, end); throws what fromBinary throws. */
  decode(buf: Buffer, start: number, end: number): Principal {
    const key = buf.toString("latin1", start, end);
    const hit = this.#byBytes.get(key);
    if (hit !== undefined) {
      // Most recently used last: Map keeps insertion order.
      this.#byBytes.delete(key);
      this.#byBytes.set(key, hit);
      return hit;
    }
    const p = fromBinary(PrincipalSchema, new Uint8Array(buf.buffer, buf.byteOffset + start, end - start));
    // Shared by many events, and PrincipalSeal remembers checks of frozen principals only.
    Object.freeze(p.read);
    Object.freeze(p.write);
    Object.freeze(p);
    if (this.#byBytes.size >= this.#max) {
      const oldest = this.#byBytes.keys().next();
      if (oldest.done !== true) this.#byBytes.delete(oldest.value);
    }
    this.#byBytes.set(key, p);
    return p;
  }
}
