import { defineCommand } from "../../platform/command.ts";
import { gatewayFlags } from "./config.ts";

export const command = defineCommand({
  name: "gateway",
  summary:
    "WebSocket gateway: terminates client connections, fans out locally, and serves the push stream to logic processes.",
  flags: gatewayFlags,
  async run(config) {
    const { runGateway } = await import("./main.ts");
    await runGateway(config);
  },
});
