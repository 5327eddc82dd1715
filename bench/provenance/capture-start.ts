// Prints the start of a run's provenance as JSON, for a run whose result is
// written by another process (make test-reliability: the suites run, then
// reliability/render-doc.ts finishes the provenance and writes the file).
//
//   node bench/provenance/capture-start.ts <result path> > start.json
import { captureStart } from "./provenance.ts";

const result = process.argv[2];
if (result === undefined) throw new Error("usage: node bench/provenance/capture-start.ts <result path>");
process.stdout.write(`${JSON.stringify(captureStart(result))}\n`);
