import type { EditState, StoredMessage } from "./message-store.ts";

/** A message's state and body after its edits and deletes. */
export interface CurrentState extends EditState {
  /** The last edit's body, `null` once deleted. */
  readonly body: string;
}

/**
 * The state after an edit or delete event, or undefined when the event
 * changes nothing: a delete is final, and an event older than the state
 * applied already (a resent one) loses. Every store applies events with this
 * one rule, so their current views agree.
 */
export function nextState(
  current: CurrentState | undefined,
  event: {
    readonly seq: number;
    readonly ts: number;
    readonly kind: "edit" | "delete";
    readonly body: string;
  },
): CurrentState | undefined {
  if (current !== undefined && (current.deleted || current.seq >= event.seq)) return undefined;
  const deleted = event.kind === "delete";
  return { seq: event.seq, ts: event.ts, deleted, body: deleted ? "null" : event.body };
}

/** The current view of a page of events: its messages, each with its state applied. */
export function currentView(
  events: readonly StoredMessage[],
  stateOf: (seq: number) => CurrentState | undefined,
): StoredMessage[] {
  const out: StoredMessage[] = [];
  for (const m of events) {
    if (m.kind !== "message") continue;
    const s = stateOf(m.seq);
    out.push(
      s === undefined ? m : { ...m, body: s.body, edit: { seq: s.seq, ts: s.ts, deleted: s.deleted } },
    );
  }
  return out;
}
