// Generated bad push-stream frames against a real gateway process (the link
// fixture of gateway/src/link/testing): truncated batches end the stream with
// INVALID_ARGUMENT, unknown fields are skipped, oversized frames get
// RESOURCE_EXHAUSTED; the healthy logic stream beside them never notices, and
// the gateway's memory stays bounded. (Missing/wrong secret, bad hello and a
// future protocol version: gateway/src/link/logic-link-server.test.ts.)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import { GatewayProcess } from "../gateway/src/link/testing/gateway-process.ts";
import { rawHello, rawLogicStream } from "../gateway/src/link/testing/raw-logic-stream.ts";
import { DeliveryBatchSchema } from "../gen/chatcluster/v1/gateway_stream_pb.js";
import { StaticDiscovery } from "../logic/src/discovery/index.ts";
import { testFleet, waitFor } from "../logic/src/link/testing/fleet-harness.ts";
import { SECRET_HEADER } from "../protocol/push-stream/index.ts";
import { type RawFrame, RawLogicFrameSchema } from "../protocol/push-stream/testing/raw-gateway-service.ts";
import { recordResult } from "./results.ts";

const SECRET = "reliability-push-secret-0123456789";
const MAX_FRAME = 64 * 1024;
const MiB = 1024 * 1024;
const gw = await GatewayProcess.start({ gatewayId: "fuzz-0", secret: SECRET, maxFrameBytes: MAX_FRAME });
after(() => gw.dispose());

const rss = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${gw.child.pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
};

const hello = rawHello("fuzz");

/** A LogicFrame whose `deliveries` field carries these bytes as the DeliveryBatch. */
function deliveriesFrame(batch: Uint8Array): RawFrame {
  // An unknown field's data holds what follows the tag: for wire type 2, the length, then the bytes.
  const data = new Uint8Array([...varint(batch.length), ...batch]);
  return { $typeName: RawLogicFrameSchema.typeName, $unknown: [{ no: 2, wireType: 2, data }] };
}

function batchBytes(n: number, payloadBytes: number): Uint8Array {
  return toBinary(
    DeliveryBatchSchema,
    create(DeliveryBatchSchema, {
      batchSeq: 1n,
      deliveries: Array.from({ length: n }, (_, i) => ({
        room: "fz",
        seq: BigInt(i + 1),
        payload: new Uint8Array(payloadBytes).fill(0x61),
      })),
    }),
  );
}

/** Varint-encodes v (below 2^28 here). */
function varint(v: number): number[] {
  const out: number[] = [];
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function exchange(frames: RawFrame[]): Promise<ConnectError | undefined> {
  return rawLogicStream(
    `http://${gw.address}`,
    [hello, ...frames],
    { [SECRET_HEADER]: SECRET },
    { holdMs: 250 },
  );
}

test("truncated, padded and oversized push-stream frames get their status; the healthy stream never notices", {
  timeout: 180_000,
}, async (t) => {
  const started = Date.now();
  await gw.rooms("r");
  const { fleet } = testFleet(new StaticDiscovery([gw.address]), "good-logic", { secret: SECRET });
  t.after(() => fleet.stop());
  await fleet.start();
  await waitFor("healthy stream", () => fleet.stats()[0]?.rooms === 1);
  let healthy = 0;
  const pump = setInterval(() => fleet.deliverToRoom("r", BigInt(++healthy), new Uint8Array([1])), 20);
  const rssBefore = rss();

  const full = batchBytes(5, 40);
  const outcomes = new Map<string, number>();
  const tally = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
  try {
    // Truncated: every prefix is either a valid shorter batch or malformed, never a crash.
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: full.length - 1 }), async (cut) => {
        const err = await exchange([deliveriesFrame(full.subarray(0, cut))]);
        if (err === undefined) tally("truncated: accepted (cut on a field boundary)");
        else {
          assert.equal(err.code, Code.InvalidArgument, `cut at ${cut}: ${err.message}`);
          assert.match(err.rawMessage, /malformed_frame/);
          tally("truncated: INVALID_ARGUMENT malformed_frame");
        }
      }),
      { numRuns: 25 },
    );
    // Unknown fields (any number, varint or length-delimited) are skipped like protobuf says.
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: 100_000 }),
        fc.boolean(),
        fc.uint8Array({ maxLength: 64 }),
        async (no, delimited, data) => {
          const extra = delimited
            ? [...varint((no << 3) | 2), ...varint(data.length), ...data]
            : [...varint(no << 3), ...varint(data.length)];
          const err = await exchange([deliveriesFrame(new Uint8Array([...full, ...extra]))]);
          assert.equal(err, undefined, `unknown field ${no}: ${err?.message}`);
          tally("unknown fields: accepted, skipped");
        },
      ),
      { numRuns: 15 },
    );
    // Oversized: just above the cap and far above it.
    for (const size of [MAX_FRAME + 1, 4 * MiB]) {
      const err = await exchange([deliveriesFrame(batchBytes(1, size))]);
      assert.equal(err?.code, Code.ResourceExhausted, `size ${size}: ${err?.message}`);
      tally("oversized: RESOURCE_EXHAUSTED");
    }
  } finally {
    clearInterval(pump);
  }
  const s = await gw.waitDeliveries(healthy);
  assert.ok(s.deliveries >= healthy, "every healthy delivery arrived");
  assert.equal(fleet.connectedGateways(), 1, "the healthy stream stayed up");
  const rssAfter = rss();
  assert.ok(
    rssAfter - rssBefore < 100 * MiB,
    `gateway RSS grew ${((rssAfter - rssBefore) / MiB).toFixed(1)} MiB`,
  );
  recordResult({
    id: "input-push-stream",
    kind: "hostile input",
    load: `one healthy logic stream delivering every 20 ms (${healthy} deliveries)`,
    fault:
      "42 bad streams: DeliveryBatch truncated at random offsets, random unknown fields appended, frames of 64 KiB + 1 and 4 MiB",
    outcome: `${[...outcomes].map(([k, n]) => `${k} x${n}`).join("; ")}; the healthy stream got all ${healthy} deliveries and stayed up; gateway RSS ${(rssBefore / MiB).toFixed(0)} -> ${(rssAfter / MiB).toFixed(0)} MiB`,
    lost: 0,
    durationMs: Date.now() - started,
  });
});
