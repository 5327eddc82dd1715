import { productionThroughput, startProductionRig } from "./production.ts";

const rig = await startProductionRig();
await productionThroughput(rig, { n: 20000 });
console.log(await productionThroughput(rig, { durationMs: 5000 }));
await rig.close();
