// Profiles the production push path: a 5 s sustained run, sender here and
// gateway in a child process. Both write a CPU profile on exit:
//   NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" node bench/push/profile.ts
// then open the .cpuprofile files in Chrome DevTools (Performance tab).
import { productionThroughput, startProductionRig } from "./production.ts";

const rig = await startProductionRig();
await productionThroughput(rig, { n: 20_000 }); // warm-up
console.log(
  await productionThroughput(rig, { durationMs: Number(process.env.PUSH_BENCH_SUSTAINED_MS ?? 5000) }),
);
await rig.close();
