import type { ClientFrame } from "./client-frames.ts";

/**
 * What validating one client text frame gives. Three outcomes, each with a
 * fixed answer (docs/protocol.md, "Bad input"):
 * - `frame`: well-formed, typed.
 * - `reject`: a JSON object the server understands as a frame but cannot use
 *   (unknown type, wrong field type): answer with an error frame, keep the
 *   connection — a newer client must not be disconnected by an older server.
 *   An `auth` without a usable token says `type: "auth"`: it is closed 4001
 *   like a refused token, not left to time out.
 * - `malformed`: not JSON, or not an object: the peer is not speaking the
 *   protocol; close with bad_frame.
 */
export type ParseResult =
  | { kind: "frame"; frame: ClientFrame }
  | { kind: "reject"; code: string; message: string; id?: string; type?: "auth" }
  | { kind: "malformed"; message: string };
