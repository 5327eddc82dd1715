import { defineCommand } from "../../platform/command.ts";
import { logicFlags } from "./config.ts";

export const command = defineCommand({
  name: "logic",
  summary:
    "Stateless logic: auth, persistence, ordering, history and routing; keeps one push stream to every gateway and serves the server API.",
  flags: logicFlags,
  async run(config) {
    const { runLogic } = await import("./main.ts");
    await runLogic(config);
  },
});
