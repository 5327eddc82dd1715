// The hop-latency run of `make bench-push`, in a process of its own (forked by
// run.ts): the sender here and the gateway it starts carry none of the
// baselines' garbage, whose collection otherwise sets the tail (10-20 ms GC
// pauses measured when the latency ran in the process that had just driven
// REST and gRPC clients).
import { productionLatency, productionThroughput, startProductionRig } from "./production.ts";

const rate = Number(process.argv[2]);
const warmupMs = Number(process.argv[3]);
const measureMs = Number(process.argv[4]);
const rig = await startProductionRig();
try {
  // JIT and connection warm-up at full speed, then the paced warm-up inside productionLatency.
  await productionThroughput(rig, { n: 20_000 });
  const result = await productionLatency(rig, rate, warmupMs, measureMs);
  process.send?.(result);
} finally {
  await rig.close();
}
