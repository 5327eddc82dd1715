/**
 * Client protocol v1, edits and deletes (docs/protocol.md): an author
 * replaces the body of one of their messages, or deletes it. Each is a new
 * event in the room's sequence (a `message` frame with `kind` and `target`),
 * so members get it live and a client that was away gets it when it resumes.
 */

// ---- client -> server ----------------------------------------------------

/** Replaces the body of the message `target` (one of the sender's own). Answered with `ack` or `error`. */
export interface EditFrame {
  type: "edit";
  room: string;
  /** Id of the edit, unique per sender (1..64 characters); a resend never stores a second edit. */
  id: string;
  /** The seq of the message to edit. */
  target: number;
  body: unknown;
}
/** Deletes the message `target` (one of the sender's own). Answered with `ack` or `error`. */
export interface DeleteFrame {
  type: "delete";
  room: string;
  /** Id of the delete, unique per sender (1..64 characters). */
  id: string;
  /** The seq of the message to delete. */
  target: number;
}
