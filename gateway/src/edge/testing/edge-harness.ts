import { createLogger } from "../../../../platform/logger.ts";
import { createMetricsRegistry } from "../../../../platform/metrics-registry.ts";
import { createEdge, type Edge } from "../edge.ts";
import type { EdgeLimits } from "../edge-limits.ts";
import { FakeLogicLink } from "./fake-logic-link.ts";

/** TEST ONLY: an edge on 127.0.0.1:0 wired to a FakeLogicLink. */
export async function startTestEdge(limits: Partial<EdgeLimits> = {}) {
  const link = new FakeLogicLink();
  const registry = createMetricsRegistry("gateway", "test");
  const edge: Edge = createEdge({
    link,
    registry,
    log: createLogger("gateway", "silent"),
    gatewayId: "gw-test",
    limits,
  });
  link.sink = edge;
  const { port } = await edge.listen("127.0.0.1", 0);
  return { edge, link, registry, port, url: `ws://127.0.0.1:${port}/` };
}
