import { JetStreamApiCodes, JetStreamApiError, JetStreamError } from "@nats-io/jetstream";

/** A publish lost its expected-last-sequence race. */
export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/**
 * A direct get found nothing: an API error from a single get, or a 404
 * status ending a batched one (a status error the client does not export).
 */
export function isNoMessage(err: unknown): boolean {
  if (err instanceof JetStreamApiError) return err.code === JetStreamApiCodes.NoMessageFound;
  return err instanceof JetStreamError && (err as { code?: unknown }).code === 404;
}
