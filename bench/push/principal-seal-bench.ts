// Micro-benchmark of the principal seal (logic/src/auth/principal-seal.ts):
// what signing a principal (once per auth) and verifying it (once per event
// that carries one) cost, next to decoding the event itself, which logic does
// anyway. Used instead of a `make bench-push` run when the machine is busy.
//
//   node bench/push/principal-seal-bench.ts
//
// Prints ns per operation (median of 7 rounds) and the machine's load average.

import { loadavg } from "node:os";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ClientEventSchema, PrincipalSchema } from "../../gen/chatcluster/v1/gateway_stream_pb.js";
import { PrincipalSeal } from "../../logic/src/auth/principal-seal.ts";

const seal = new PrincipalSeal({ key: "k".repeat(32), previousKey: "", acceptUnsigned: false });
const gateway = { id: "gateway-3", epoch: "9f2c4e1a7b3d5f60" };
const principal = create(PrincipalSchema, {
  userId: "user-123456",
  read: ["team.a.>", "lobby", "dm.user-123456.*"],
  write: ["team.a.>", "lobby"],
  expiresAtMs: BigInt(Date.now() + 3_600_000),
});
seal.sign(principal, gateway, 4242);
const event = toBinary(
  ClientEventSchema,
  create(ClientEventSchema, {
    eventId: 1n << 62n,
    connectionId: 4242,
    principal,
    kind: {
      case: "send",
      value: { room: "team.a.general", clientMsgId: "m-1", body: Buffer.from('{"text":"hi"}') },
    },
  }),
);

function measure(name: string, n: number, fn: () => unknown): void {
  const ns: number[] = [];
  for (let round = 0; round < 7; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    ns.push(Number(process.hrtime.bigint() - start) / n);
  }
  ns.sort((a, b) => a - b);
  console.log(`${name.padEnd(40)} ${(ns[3] as number).toFixed(0).padStart(6)} ns`);
}

for (let i = 0; i < 20_000; i++) {
  seal.verify(principal, gateway, 4242);
  fromBinary(ClientEventSchema, event);
}
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
measure("verify (per event with a principal)", 50_000, () => seal.verify(principal, gateway, 4242));
measure("sign (per auth)", 50_000, () => seal.sign(principal, gateway, 4242));
measure("fromBinary(ClientEvent) for comparison", 50_000, () => fromBinary(ClientEventSchema, event));
