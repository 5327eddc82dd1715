import * as hdr from "hdr-histogram-js";

/** A latency histogram in µs, 1 µs to 120 s at 3 significant digits. */
export function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
}
