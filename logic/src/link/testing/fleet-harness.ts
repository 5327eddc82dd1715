import { create } from "@bufbuild/protobuf";
import { Registry } from "prom-client";
import { type ClientEvent, ReplySchema } from "../../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { createLogger } from "../../../../platform/logger.ts";
import type { Discovery } from "../../discovery/discovery.ts";
import type { GatewayRef } from "../../gateway-fleet.ts";
import type { GatewayFleetOptions } from "../fleet-options.ts";
import { createGatewayFleet } from "../gateway-fleet-impl.ts";

/** Polls cond every 20 ms until it holds; throws with `what` after timeoutMs. */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads one sample from Prometheus text: name{labels} value (labels matched as a substring). */
export function metricValue(text: string, name: string, labels = ""): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(" ") || rest.startsWith("{"))) continue;
    if (labels !== "" && !rest.includes(labels)) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return Number.NaN;
}

/** A fleet for tests: records events and, unless `answer` is false, replies Done to each. */
export function testFleet(
  discovery: Discovery,
  logicId: string,
  extra: Partial<GatewayFleetOptions> = {},
  answer = true,
) {
  const registry = new Registry();
  const events: { from: GatewayRef; event: ClientEvent }[] = [];
  // The sink needs the fleet to reply; the fleet needs the sink.
  const holder: { fleet?: ReturnType<typeof createGatewayFleet> } = {};
  const fleet = createGatewayFleet({
    discovery,
    logicId,
    epoch: `${logicId}-${process.pid}`,
    registry,
    log: createLogger("logic", "warn"),
    sink: {
      onEvents(from, evs) {
        for (const event of evs) {
          events.push({ from, event });
          if (answer) {
            holder.fleet?.reply(
              from,
              create(ReplySchema, {
                eventId: event.eventId,
                connectionId: event.connectionId,
                kind: { case: "done", value: {} },
              }),
            );
          }
        }
      },
    },
    ...extra,
  });
  holder.fleet = fleet;
  return { fleet, registry, events };
}
