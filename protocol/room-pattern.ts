/**
 * Room patterns in tokens: segments separated by `.`; `*` matches exactly one
 * segment; a trailing `>` matches one or more remaining segments (the NATS
 * subject rules). `chat.*` matches `chat.a` but not `chat.a.b`; `chat.>`
 * matches both but not `chat`; `>` matches every room.
 *
 * Matching walks both strings by index without splitting: it runs on every
 * send and join with the principal the gateway attached, so it must not
 * allocate.
 */

/** Returns why `pattern` is not a valid room pattern, or undefined. */
export function patternProblem(pattern: string): string | undefined {
  if (pattern.length === 0 || pattern.length > 256) return "pattern is empty or longer than 256 characters";
  const segments = pattern.split(".");
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as string;
    if (s.length === 0) return `pattern "${pattern}" has an empty segment`;
    if (s === ">" && i !== segments.length - 1) return `pattern "${pattern}": ">" must be the last segment`;
    if (s !== "*" && s !== ">" && !/^[A-Za-z0-9_\-:@]+$/.test(s)) {
      return `pattern "${pattern}": segment "${s}" has characters outside [A-Za-z0-9_-:@] or a partial wildcard`;
    }
  }
  return undefined;
}

/** True when `room` matches `pattern` (both assumed valid). */
export function matchRoom(pattern: string, room: string): boolean {
  let i = 0;
  let j = 0;
  for (;;) {
    let pe = pattern.indexOf(".", i);
    if (pe === -1) pe = pattern.length;
    if (pe - i === 1 && pattern.charCodeAt(i) === 62 /* > */ && pe === pattern.length) return j < room.length;
    if (j >= room.length) return false;
    let re = room.indexOf(".", j);
    if (re === -1) re = room.length;
    const star = pe - i === 1 && pattern.charCodeAt(i) === 42; /* * */
    if (!star && !sameSegment(pattern, i, pe, room, j, re)) return false;
    const pDone = pe === pattern.length;
    const rDone = re === room.length;
    if (pDone || rDone) return pDone && rDone;
    i = pe + 1;
    j = re + 1;
  }
}

function sameSegment(a: string, ai: number, ae: number, b: string, bi: number, be: number): boolean {
  if (ae - ai !== be - bi) return false;
  for (let k = 0; k < ae - ai; k++) if (a.charCodeAt(ai + k) !== b.charCodeAt(bi + k)) return false;
  return true;
}

/** True when any of `patterns` matches `room`. */
export function matchesAny(patterns: readonly string[], room: string): boolean {
  for (const p of patterns) if (matchRoom(p, room)) return true;
  return false;
}
