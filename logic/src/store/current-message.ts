import type { MessageStore, StoredMessage } from "./message-store.ts";

/**
 * The message at `seq` as it is now (edits applied, or a tombstone), or
 * undefined when there is none: the seq is past the head, or belongs to an
 * edit or a delete rather than a message. Throws StoreError.
 */
export async function currentMessage(
  store: MessageStore,
  room: string,
  seq: number,
): Promise<StoredMessage | undefined> {
  const page = await store.read(room, { since: seq - 1, limit: 1, view: "current" });
  return page.messages.find((m) => m.seq === seq);
}

/** Why an edit or delete of `seq` cannot go ahead, or undefined when it can. */
export function editProblem(
  m: StoredMessage | undefined,
  seq: number,
): { readonly code: "not_found"; readonly message: string } | undefined {
  if (m === undefined) return { code: "not_found", message: `no message with seq ${seq} in this room` };
  if (m.edit?.deleted) return { code: "not_found", message: `message ${seq} was deleted` };
  return undefined;
}
