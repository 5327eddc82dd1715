import type { FlagSpecs, FlagValues } from "./flags.ts";

/**
 * A subcommand of `bin/chatcluster`. Each workload exports one from its
 * `src/command.ts`; `run` is the composition root: it receives the validated
 * config, builds the dependencies, starts them and wires signals.
 */
export interface Command<S extends FlagSpecs = FlagSpecs> {
  readonly name: string;
  readonly summary: string;
  readonly flags: S;
  run(config: FlagValues<S>): Promise<void>;
}

export function defineCommand<S extends FlagSpecs>(command: Command<S>): Command<S> {
  return command;
}
