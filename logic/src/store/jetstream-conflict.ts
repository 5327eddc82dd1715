import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/** A publish lost its expected-last-sequence race. */
export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
