import { randomBytes } from "node:crypto";
import { getHeapStatistics } from "node:v8";
import { createLogger } from "../../platform/logger.ts";
import { createMetricsRegistry } from "../../platform/metrics-registry.ts";
import { startOpsServer } from "../../platform/ops-server.ts";
import { onShutdownSignal } from "../../platform/shutdown.ts";
import { VERSION } from "../../platform/version.ts";
import {
  edgeLimitsFrom,
  effectiveDrainWindowMs,
  type GatewayConfig,
  internalLinkGaps,
  internalTlsFrom,
  pendingEventLimitsFrom,
  resolveGatewayId,
  validateGatewayConfig,
} from "./config.ts";
import { createEdge, type Edge } from "./edge/index.ts";
import { createLogicLinkServer } from "./link/index.ts";

/**
 * Composition root of a gateway process: the WebSocket edge on the client port,
 * the push-stream server on the internal port, health and metrics on the ops port.
 *
 * Shutdown order on SIGTERM: drain the edge (readiness fails at once, clients
 * are told to reconnect over the drain window) while the push streams stay up
 * so deliveries to the remaining clients continue; then close the streams and
 * the ports.
 */
export async function runGateway(config: GatewayConfig): Promise<void> {
  validateGatewayConfig(config);
  const gatewayId = resolveGatewayId(config, process.env);
  // New on every start: logic treats the same id with a new epoch as a restarted gateway.
  const epoch = randomBytes(8).toString("hex");
  const log = createLogger("gateway", config.logLevel).child({ gatewayId, epoch });
  const registry = createMetricsRegistry("gateway", VERSION);
  const gaps = internalLinkGaps(config);
  if (gaps.length > 0)
    log.warn(
      { missing: gaps, insecureInternal: config.insecureInternal },
      "internal port not fully secured: it should have TLS both ways and the shared secret",
    );

  // The edge and the link need each other; the link reaches the edge through this late binding.
  let edge: Edge | undefined;
  const link = createLogicLinkServer({
    sink: {
      deliver: (deliveries) => edge?.deliver(deliveries),
      reply: (replies) => edge?.reply(replies),
      expired: (events) => edge?.expired(events),
      status: () => edge?.stats() ?? { connections: 0, pendingAuth: 0, rooms: 0 },
    },
    gatewayId,
    epoch,
    registry,
    log,
    host: config.internalListen.host,
    port: config.internalListen.port,
    tls: internalTlsFrom(config),
    secret: config.internalSecret === "" ? undefined : config.internalSecret,
    previousSecret: config.internalSecretPrevious === "" ? undefined : config.internalSecretPrevious,
    ...pendingEventLimitsFrom(config),
  });
  edge = createEdge({
    link: link.link,
    registry,
    log,
    gatewayId,
    limits: edgeLimitsFrom(config, getHeapStatistics().heap_size_limit),
  });
  const internal = await link.listen();
  const client = await edge.listen(config.clientListen.host, config.clientListen.port);
  const readyEdge = edge;
  const ops = await startOpsServer({
    host: config.opsListen.host,
    port: config.opsListen.port,
    registry,
    notReadyReason: () => readyEdge.notReadyReason(),
  });
  log.info(
    { clientPort: client.port, internalPort: internal.port, opsPort: ops.port, version: VERSION },
    "gateway started",
  );

  onShutdownSignal(log, config.shutdownGrace, async () => {
    const windowMs = effectiveDrainWindowMs(config);
    log.info({ windowMs, connections: readyEdge.stats().connections }, "draining");
    link.link.setDraining(true);
    await readyEdge.drain(windowMs);
    await readyEdge.close();
    await link.close();
    await ops.close();
  });
}
