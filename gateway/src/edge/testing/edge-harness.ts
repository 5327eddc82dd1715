import { createLogger } from "../../../../platform/logger.ts";
import { createMetricsRegistry } from "../../../../platform/metrics-registry.ts";
import { createEdge, type Edge } from "../edge.ts";
import type { EdgeLimits } from "../edge-limits.ts";
import { type FakeLogic, FakeLogicLink } from "./fake-logic-link.ts";

/** TEST ONLY: an edge on `host`:0 wired to a FakeLogicLink (sharing `logic` when given). */
export async function startTestEdge(limits: Partial<EdgeLimits> = {}, logic?: FakeLogic, host = "127.0.0.1") {
  const link = new FakeLogicLink(logic);
  const registry = createMetricsRegistry("gateway", "test");
  const edge: Edge = createEdge({
    link,
    registry,
    log: createLogger("gateway", "silent"),
    gatewayId: "gw-test",
    limits,
  });
  link.sink = edge;
  const { port } = await edge.listen(host, 0);
  return { edge, link, registry, port, url: `ws://${host}:${port}/` };
}
