/**
 * Rendezvous (highest-random-weight) hashing: a key goes to the candidate with
 * the highest hash(key, candidate). Every gateway computes the same answer
 * from the same set of logic ids, so a room's events from all gateways meet in
 * one logic process; when a logic process leaves, only its keys move.
 */

/** 32-bit FNV-1a over the UTF-16 code units of s. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finalizer: spreads a combination of two hashes over all 32 bits. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface RendezvousCandidate {
  /** The candidate's stable id (logic id). */
  readonly id: string;
  /** hashString(id), computed once. */
  readonly idHash: number;
}

/** The candidate with the highest weight for key; ties (astronomically rare) go to the smaller id. */
export function rendezvousPick<C extends RendezvousCandidate>(
  key: string,
  candidates: Iterable<C>,
): C | undefined {
  const kh = hashString(key);
  let best: C | undefined;
  let bestScore = -1;
  for (const c of candidates) {
    const score = mix(kh ^ Math.imul(c.idHash, 0x9e3779b1));
    if (score > bestScore || (score === bestScore && best !== undefined && c.id < best.id)) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}
