/**
 * Bans and token revocations, kept in the store so they outlive every logic
 * process (docs/server-api.md, Moderation). One entry per (kind, key): a
 * later put replaces it, an unban is an inactive entry. Every logic process
 * follows the entries into memory (moderation/moderation-list.ts) and checks
 * each auth and event against them.
 */

/** `ban`: a user (key = user id); `token`: one token (key = its `jti`). */
export type ModerationKind = "ban" | "token";

export interface ModerationEntry {
  readonly kind: ModerationKind;
  /** The user id, or the token id. */
  readonly key: string;
  /** When it ends, ms since the Unix epoch; 0 for never. */
  readonly untilMs: number;
  /** False once lifted (an unban). */
  readonly active: boolean;
  /** Why, for the audit trail and close reasons. */
  readonly reason: string;
  /** When it was written, ms since the Unix epoch. */
  readonly atMs: number;
}

export interface ModerationStore {
  /** Records the entry, replacing the one of the same (kind, key). Throws StoreError. */
  put(entry: ModerationEntry): Promise<void>;
  /**
   * Entries written after `cursor` (0: every entry), oldest first, at most a
   * page of them, and the cursor to pass next (the same when nothing is new).
   * Throws StoreError.
   */
  changes(cursor: number): Promise<{ entries: ModerationEntry[]; cursor: number }>;
  close(): Promise<void>;
}

/** True while the entry refuses (active and not ended). */
export function inForce(e: ModerationEntry | undefined, now: number): boolean {
  return e?.active === true && (e.untilMs === 0 || now < e.untilMs);
}
