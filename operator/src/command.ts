import { readFileSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { defineCommand } from "../../platform/command.ts";
import { ConfigError } from "../../platform/config-error.ts";
import { createLogger } from "../../platform/logger.ts";
import { createMetricsRegistry } from "../../platform/metrics-registry.ts";
import { startOpsServer } from "../../platform/ops-server.ts";
import { onShutdownSignal } from "../../platform/shutdown.ts";
import { VERSION } from "../../platform/version.ts";
import { operatorFlags, validateOperatorConfig } from "./config.ts";
import { startOperator } from "./operator.ts";

const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/** Stopping workers, releasing the Lease and closing watches takes seconds; never minutes. */
const SHUTDOWN_DEADLINE_MS = 20_000;

export const command = defineCommand({
  name: "operator",
  summary: "Reconciles ChatCluster resources into gateway and logic workloads.",
  flags: operatorFlags,
  async run(config) {
    try {
      validateOperatorConfig(config);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // One line, like a flag parse error: nothing has started yet.
      process.stderr.write(`chatcluster operator: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    const log = createLogger("operator", config.logLevel);
    const registry = createMetricsRegistry("operator", VERSION);
    const kubeConfig = new KubeConfig();
    if (config.kubeconfig !== "") kubeConfig.loadFromFile(config.kubeconfig);
    else kubeConfig.loadFromDefault();
    let podNamespace: string | undefined;
    try {
      podNamespace = readFileSync(SERVICE_ACCOUNT_NAMESPACE, "utf8").trim() || undefined;
    } catch {
      // Not in a pod.
    }

    // Servers first (controller-runtime order): probes answer while caches fill.
    let notReady: () => string | null = () => "starting";
    const ops = await startOpsServer({
      host: config.opsListen.host,
      port: config.opsListen.port,
      registry,
      notReadyReason: () => notReady(),
    });
    let exiting = false;
    const operator = await startOperator(config, {
      kubeConfig,
      registry,
      log,
      podNamespace,
      onLostLeadership: () => {
        if (exiting) return;
        exiting = true;
        // Another process may already be reconciling: stop at once and let the restart re-campaign.
        log.error("leadership lost: exiting");
        void operator.stop().finally(() => process.exit(1));
      },
    });
    notReady = operator.notReadyReason;
    log.info(
      {
        version: VERSION,
        identity: operator.identity,
        opsPort: ops.port,
        watchNamespace: config.watchNamespace || "(all)",
        leaderElect: config.leaderElect,
        server: kubeConfig.getCurrentCluster()?.server,
      },
      "operator started",
    );
    onShutdownSignal(log, SHUTDOWN_DEADLINE_MS, async () => {
      exiting = true;
      await operator.stop();
      await ops.close();
    });
  },
});
