import { randomBytes } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import type { Logger } from "../../platform/logger.ts";
import { createLogger } from "../../platform/logger.ts";
import { createMetricsRegistry } from "../../platform/metrics-registry.ts";
import { startOpsServer } from "../../platform/ops-server.ts";
import { onShutdownSignal } from "../../platform/shutdown.ts";
import { VERSION } from "../../platform/version.ts";
import { CLOSE_CODES } from "../../protocol/index.ts";
import { userInterestKey } from "../../protocol/presence-frames.ts";
import { closeConnections, loadApiKeys, startServerApi } from "./api/index.ts";
import { AuthError } from "./auth/auth-error.ts";
import type { Authenticator } from "./auth/authenticator.ts";
import { createAuthenticator, PrincipalSeal } from "./auth/index.ts";
import {
  gatewayTlsFrom,
  hasJwtKey,
  internalLinkGaps,
  type LogicConfig,
  logicConfigWarnings,
  redactLogicConfig,
  validateLogicConfig,
} from "./config.ts";
import { createDiscoveryMetrics } from "./discovery/discovery-metrics.ts";
import { EndpointSliceDiscovery } from "./discovery/endpoint-slice-discovery.ts";
import { type Discovery, FileDiscovery, StaticDiscovery } from "./discovery/index.ts";
import type { EventSink } from "./gateway-fleet.ts";
import { AppendAdmission, boundStore, createHandlers, createLogicMetrics } from "./handlers/index.ts";
import { ownerOf } from "./handlers/presence-handlers.ts";
import { startPresenceSweep } from "./handlers/presence-sweep.ts";
import { createHooks, hookSettings } from "./hooks/index.ts";
import { createGatewayFleet, type RunningGatewayFleet } from "./link/index.ts";
import { createModerationMetrics, ModerationList } from "./moderation/index.ts";
import { openStore } from "./store/index.ts";
import { inForce, type ModerationEntry } from "./store/moderation-store.ts";
import { openModerationStore } from "./store/open-moderation-store.ts";
import { openPresenceTable } from "./store/open-presence-table.ts";

/** How long a stopping logic process lets in-flight events finish before it closes its streams. */
const SETTLE_MS = 500;
/** SIGTERM to exit: far inside the default 30 s grace period. */
const SHUTDOWN_DEADLINE_MS = 20_000;

/**
 * Composition root of a logic process: store, authenticator, event handlers,
 * one push stream per discovered gateway, the server API, and the ops port.
 *
 * Logic holds no client state, so shutdown is short: stop taking new gateways,
 * let the events in flight finish and their replies flush, then close. Events a
 * gateway had sent and not seen answered are resent by the gateway to another
 * logic process, so a SIGKILL loses nothing acknowledged either.
 */
export async function runLogic(config: LogicConfig): Promise<void> {
  validateLogicConfig(config);
  // New on every start; sent in the LogicHello.
  const epoch = randomBytes(8).toString("hex");
  const log = createLogger("logic", config.logLevel).child({ logicId: config.logicId, epoch });
  log.info({ config: redactLogicConfig(config), version: VERSION }, "starting");
  const gaps = internalLinkGaps(config);
  if (gaps.length > 0)
    log.warn(
      { missing: gaps, insecureInternal: config.insecureInternal },
      "push stream not fully secured: it should have TLS both ways and the shared secret",
    );
  for (const warning of logicConfigWarnings(config)) log.warn(warning);
  const registry = createMetricsRegistry("logic", VERSION);
  const metrics = createLogicMetrics(registry);

  const store = boundStore(
    await openStore(config, log),
    { maxInFlight: config.maxInflightStoreOps, maxQueued: config.maxQueuedStoreOps },
    metrics,
  );
  const presence = await openPresenceTable(config, log);
  // Bans and revocations other processes write reach this one's gateways too (see ModerationList).
  let fleetRef: RunningGatewayFleet | undefined;
  const moderationStore = await openModerationStore(config);
  const moderationList = new ModerationList(moderationStore, log, (e) => {
    if (fleetRef !== undefined && inForce(e, Date.now())) void disconnectModerated(fleetRef, e);
  });
  await moderationList.start();
  createModerationMetrics(registry, (kind) => moderationList.count(kind, Date.now()));
  const auth = hasJwtKey(config) ? await createAuthenticator(config, log) : NO_JWT;
  const hooks = createHooks(hookSettings(config), registry, config.maxBodyBytes);
  const discovery = createDiscovery(config, registry, log);

  // The fleet and the handlers need each other; the fleet reaches the handlers through this late binding.
  let handlers: EventSink | undefined;
  const fleet = createGatewayFleet({
    discovery,
    logicId: config.logicId,
    epoch,
    sink: { onEvents: (from, events) => handlers?.onEvents(from, events) },
    registry,
    log,
    secret: config.internalSecret === "" ? undefined : config.internalSecret,
    previousSecret: config.internalSecretPrevious === "" ? undefined : config.internalSecretPrevious,
    tls: gatewayTlsFrom(config),
  });
  fleetRef = fleet;
  const limits = { maxBodyBytes: config.maxBodyBytes, maxHistoryPage: config.maxHistoryPage };
  const principals = new PrincipalSeal({
    key: config.principalKey,
    previousKey: config.principalKeyPrevious,
    acceptUnsigned: config.principalAcceptUnsigned,
  });
  if (!principals.enabled)
    log.warn(
      "no --principal-key: principals are not signed, so a gateway could make up an identity (local runs only)",
    );
  const admission = new AppendAdmission({ targetMs: config.admissionTarget });
  handlers = createHandlers({
    store,
    fleet,
    auth,
    metrics,
    log,
    limits,
    presence,
    principals,
    admission,
    moderation: moderationList,
    ...(hooks ? { hooks } : {}),
  });
  const stopPresenceSweep = startPresenceSweep(
    presence,
    fleet,
    () => {
      const live = new Set<string>();
      for (const g of fleet.stats())
        if (g.state === "ready" && g.gatewayId !== undefined && g.epoch !== undefined)
          live.add(ownerOf({ id: g.gatewayId, epoch: g.epoch }));
      return live;
    },
    metrics,
    log,
  );
  const api = await startServerApi({
    host: config.apiListen.host,
    port: config.apiListen.port,
    keys: loadApiKeys(config),
    store,
    fleet,
    presence,
    metrics,
    log,
    limits,
    self: { logicId: config.logicId, epoch, version: VERSION },
    moderation: { store: moderationStore, list: moderationList },
  });
  await fleet.start();
  let stopping = false;
  let reachedGateways = false;
  const ops = await startOpsServer({
    host: config.opsListen.host,
    port: config.opsListen.port,
    registry,
    // Ready means "can serve": the store is open (start got here) and every gateway
    // discovered at start has had a first connection attempt, so during a rollout an
    // old logic pod leaves only once its replacement streams to the gateways. Not
    // "gateways ready": a gateway turns ready only after a logic stream is up, and
    // a failed attempt counts, so neither tier waits for the other. Latched: a
    // gateway discovered later never takes a serving logic pod out of its Service.
    notReadyReason: () => {
      if (stopping) return "stopping";
      if (!reachedGateways) {
        if (!fleet.settled()) return "connecting to the gateways it discovered";
        reachedGateways = true;
      }
      return null;
    },
  });
  log.info({ apiPort: api.port, opsPort: ops.port, discovery: config.discovery }, "logic started");

  onShutdownSignal(log, SHUTDOWN_DEADLINE_MS, async () => {
    stopping = true;
    await api.close();
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    await fleet.stop();
    stopPresenceSweep();
    moderationList.stop();
    await moderationStore.close();
    await presence.close();
    await store.close();
    auth.close();
    await ops.close();
  });
}

/** Closes the connections a ban or revocation another process wrote names, on the gateways of this one. */
async function disconnectModerated(fleet: RunningGatewayFleet, e: ModerationEntry): Promise<void> {
  if (e.kind === "ban") {
    await closeConnections({ fleet }, userInterestKey(e.key), {
      code: CLOSE_CODES.banned.code,
      reason: e.reason === "" ? "banned" : e.reason,
      reconnect: false,
    });
  } else {
    await closeConnections({ fleet }, "", {
      tokenId: e.key,
      code: CLOSE_CODES.unauthorized.code,
      reason: "token revoked",
      reconnect: true,
    });
  }
}

/** With --hook-connect=instead and no key: the Connect hook decides, and no JWT is ever verified. */
const NO_JWT: Authenticator = {
  verify: () => Promise.reject(new AuthError("key_unavailable", "no JWT key configured")),
  close: () => {},
};

function createDiscovery(config: LogicConfig, registry: Registry, log: Logger): Discovery {
  switch (config.discovery) {
    case "static":
      return new StaticDiscovery(config.discoveryStatic);
    case "file":
      return new FileDiscovery({ path: config.discoveryFile });
    case "kubernetes": {
      const kubeConfig = new KubeConfig();
      if (config.kubeconfig !== "") kubeConfig.loadFromFile(config.kubeconfig);
      else kubeConfig.loadFromDefault();
      return new EndpointSliceDiscovery({
        kubeConfig,
        namespace: config.discoveryNamespace,
        serviceName: config.discoveryService,
        portName: config.discoveryPortName,
        log,
        metrics: createDiscoveryMetrics(registry),
      });
    }
  }
}
