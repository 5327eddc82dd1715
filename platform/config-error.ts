/**
 * A configuration value that cannot be used. The message names the flag and what
 * is allowed, so the CLI can print it as the single line of a failed start.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly flag: string;

  constructor(flag: string, message: string) {
    super(`--${flag}: ${message}`);
    this.flag = flag;
  }
}
