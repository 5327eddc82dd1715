import { defineCommand } from "../platform/command.ts";
import { boolFlag, enumFlag, intFlag, stringFlag } from "../platform/flags.ts";
import { LOG_LEVELS, type LogLevel } from "../platform/logger.ts";
import { startDevStack } from "./dev-stack.ts";

export const command = defineCommand({
  name: "dev",
  summary:
    "Run the whole stack on this machine: gateways, logic processes (static discovery), the SQLite or NATS store, and the demo chat page. Ctrl-C stops everything.",
  flags: {
    gateways: intFlag("CHATCLUSTER_DEV_GATEWAYS", 2, "Gateway processes.", 1, 10),
    logic: intFlag("CHATCLUSTER_DEV_LOGIC", 2, "Logic processes.", 1, 10),
    store: enumFlag(
      "CHATCLUSTER_DEV_STORE",
      "sqlite",
      "Message store; nats is also chosen when --nats-url is set.",
      ["sqlite", "nats"] as const,
    ),
    natsUrl: stringFlag(
      "NATS_URL",
      "",
      "NATS server for store=nats; empty starts a local nats-server.",
      "a nats:// URL",
    ),
    dataDir: stringFlag(
      "CHATCLUSTER_DEV_DATA_DIR",
      ".data/dev",
      "Where the SQLite files, NATS data and dev secrets live.",
      "a directory",
    ),
    host: stringFlag(
      "CHATCLUSTER_DEV_HOST",
      "127.0.0.1",
      "Address every process listens on.",
      "a local IP address",
    ),
    basePort: intFlag(
      "CHATCLUSTER_DEV_BASE_PORT",
      8000,
      "The page's port; gateways use +10.., +20.., +30.., logic +40.., +50...",
      1024,
      65000,
    ),
    logLevel: enumFlag<LogLevel>("CHATCLUSTER_LOG_LEVEL", "info", "Log level of every process.", LOG_LEVELS),
    hooksExample: boolFlag(
      "CHATCLUSTER_DEV_HOOKS_EXAMPLE",
      false,
      "Start the example hooks service (dev/hooks-example.ts: masks words, refuses shouting, room topics, dice.roll) and send joins, sends and calls through it.",
    ),
  },
  async run(config) {
    const write = (line: string) => process.stdout.write(`${line}\n`);
    const stack = await startDevStack(
      {
        gateways: config.gateways,
        logic: config.logic,
        store: config.natsUrl !== "" ? "nats" : config.store,
        natsUrl: config.natsUrl,
        dataDir: config.dataDir,
        host: config.host,
        basePort: config.basePort,
        logLevel: config.logLevel,
        hooksExample: config.hooksExample,
      },
      write,
    );
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      write("stopping: gateways drain, then everything exits");
      stack.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    try {
      await stack.ready(60_000);
    } catch (err) {
      write(`warning: ${err instanceof Error ? err.message : String(err)}`);
    }
    write("");
    write(
      `ChatCluster is running (${config.natsUrl !== "" || config.store === "nats" ? "NATS JetStream" : "SQLite"} store).`,
    );
    write(`  chat page:   ${stack.webUrl}   (open it in two tabs: each tab picks another gateway)`);
    for (const [i, url] of stack.gatewayUrls.entries()) write(`  gateway-${i}:   ${url}`);
    for (const [j, url] of stack.apiUrls.entries()) write(`  logic-${j} API: ${url}`);
    write(`  server API key: in ${config.dataDir}/dev-api-key`);
    write("Press Ctrl-C to stop.");
  },
});
