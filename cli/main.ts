import type { Command } from "../platform/command.ts";
import { ConfigError } from "../platform/config-error.ts";
import { type FlagSpecs, formatFlagHelp, parseFlags } from "../platform/flags.ts";
import { VERSION } from "../platform/version.ts";

/**
 * `bin/chatcluster <subcommand> [--flag=value ...]`. Subcommands are loaded on
 * demand so `--help` and one role never pay for the others' dependencies.
 */
const SUBCOMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  gateway: async () => (await import("../gateway/src/command.ts")).command as unknown as Command,
  logic: async () => (await import("../logic/src/command.ts")).command as unknown as Command,
  operator: async () => (await import("../operator/src/command.ts")).command as unknown as Command,
  dev: async () => (await import("../dev/command.ts")).command as unknown as Command,
};

async function usage(): Promise<string> {
  const parts = [
    `chatcluster ${VERSION}: Kubernetes-native realtime chat backend`,
    "",
    "Usage: chatcluster <subcommand> [--flag=value ...]",
    "       chatcluster <subcommand> --help",
    "",
    "Every flag can also be set by its environment variable (shown in brackets); a flag wins over its variable.",
    "",
  ];
  for (const load of Object.values(SUBCOMMANDS)) {
    const cmd = await load();
    parts.push(`${cmd.name}: ${cmd.summary}`, formatFlagHelp(cmd.flags as FlagSpecs), "");
  }
  return parts.join("\n");
}

async function main(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    process.stdout.write(await usage());
    return sub === undefined ? 2 : 0;
  }
  if (sub === "--version" || sub === "version") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const load = SUBCOMMANDS[sub];
  if (load === undefined) {
    process.stderr.write(
      `chatcluster: unknown subcommand "${sub}"; one of: ${Object.keys(SUBCOMMANDS).join(", ")}\n`,
    );
    return 2;
  }
  const cmd = await load();
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(
      `Usage: chatcluster ${cmd.name} [--flag=value ...]\n\n${cmd.summary}\n\nFlags [environment variable] (default):\n${formatFlagHelp(cmd.flags)}\n`,
    );
    return 0;
  }
  try {
    // A ConfigError, from parsing or from the checks a command makes before
    // it starts anything, is one line: what is wrong and what to do.
    await cmd.run(parseFlags(cmd.flags, rest, process.env));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`chatcluster ${cmd.name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    // -1: the subcommand is running servers and exits through its own signal handling.
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`chatcluster: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
