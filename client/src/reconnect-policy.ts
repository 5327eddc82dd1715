import { type BackoffOptions, backoffDelayMs } from "../../protocol/backoff.ts";
import { CLOSE_CODES, closeCodeByNumber } from "../../protocol/close-codes.ts";
import type { ClientErrorEvent } from "./client-error.ts";

/** After a close: stop for good (reporting why), or connect again after a delay. */
export type ReconnectDecision = { stop: ClientErrorEvent } | { delayMs: number };

/**
 * When to reconnect after a close, by the close code's policy
 * (protocol/close-codes.ts): `never` codes stop the client; `token` codes
 * reconnect only when the token can be refreshed (a token function);
 * everything else reconnects after a full-jitter backoff that grows with each
 * attempt until a connection is welcomed. A draining gateway already spread
 * its clients over its window, so a `draining` close reconnects at once (with
 * a little jitter), and a `reconnect` hint's own delay is taken as given.
 */
export class ReconnectPolicy {
  readonly #backoff: BackoffOptions;
  readonly #random: () => number;
  #attempt = 0;

  constructor(backoff: BackoffOptions, random: () => number) {
    this.#backoff = backoff;
    this.#random = random;
  }

  /** `hintMs`: the delay a reconnect hint asked for. */
  next(code: number, refreshable: boolean, hintMs?: number): ReconnectDecision {
    const entry = closeCodeByNumber(code);
    const policy = entry?.reconnect ?? "backoff";
    if (policy === "never" && code !== CLOSE_CODES.normal.code)
      return { stop: { code: entry?.name ?? "closed", message: `closed by server (${code})` } };
    if (policy === "token" && !refreshable)
      return {
        stop: { code: entry?.name ?? "unauthorized", message: "token refused; give a token function" },
      };
    if (hintMs !== undefined) return { delayMs: hintMs };
    if (code === CLOSE_CODES.draining.code)
      return { delayMs: Math.floor(this.#random() * this.#backoff.initialMs) };
    return { delayMs: backoffDelayMs(this.#attempt++, this.#backoff, this.#random) };
  }

  /** A connection was welcomed: the next failure starts from the first attempt. */
  succeeded(): void {
    this.#attempt = 0;
  }
}
