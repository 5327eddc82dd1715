import { ConfigError } from "./config-error.ts";

/**
 * Declarative command-line flags, each with an environment-variable twin.
 *
 * Precedence: `--flag=value` (or `--flag value`) over the environment variable
 * over the default. Values are parsed and validated once, here; downstream code
 * receives a frozen, fully typed object and never reads process.env.
 */
export interface Flag<T> {
  /** Environment variable read when the flag is not on the command line. */
  readonly env: string;
  /** One line of help. */
  readonly help: string;
  /** Used when neither the flag nor the variable is given. */
  readonly default: T;
  /** Shown in help and in errors: what values are allowed. */
  readonly allowed: string;
  /** Set for booleans: `--flag` alone means true. */
  readonly isBoolean?: boolean;
  /** Turns the raw text into a value, or throws an Error saying what is wrong. */
  parse(raw: string): T;
  /** Renders the default for help. */
  show?(value: T): string;
}

export type FlagSpecs = Readonly<Record<string, Flag<unknown>>>;
export type FlagValues<S extends FlagSpecs> = {
  readonly [K in keyof S]: S[K] extends Flag<infer T> ? T : never;
};

export function stringFlag(env: string, def: string, help: string, allowed = "any text"): Flag<string> {
  return { env, help, default: def, allowed, parse: (raw) => raw };
}

export function intFlag(env: string, def: number, help: string, min: number, max: number): Flag<number> {
  return {
    env,
    help,
    default: def,
    allowed: `an integer from ${min} to ${max}`,
    parse(raw) {
      if (!/^-?\d+$/.test(raw.trim())) throw new Error("not an integer");
      const n = Number(raw);
      if (n < min || n > max) throw new Error("out of range");
      return n;
    },
  };
}

/** Durations accept a number with a unit: 500ms, 30s, 2m, 1h. The value is milliseconds. */
export function durationFlag(
  env: string,
  defMs: number,
  help: string,
  minMs: number,
  maxMs: number,
): Flag<number> {
  return {
    env,
    help,
    default: defMs,
    allowed: `a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)} (e.g. 500ms, 30s, 2m)`,
    parse(raw) {
      const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(raw.trim());
      if (!m) throw new Error("not a duration");
      const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
      const ms = Math.round(Number(m[1]) * unit);
      if (ms < minMs || ms > maxMs) throw new Error("out of range");
      return ms;
    },
    show: formatDuration,
  };
}

export function boolFlag(env: string, def: boolean, help: string): Flag<boolean> {
  return {
    env,
    help,
    default: def,
    allowed: "true or false",
    isBoolean: true,
    parse(raw) {
      const v = raw.trim().toLowerCase();
      if (v === "true" || v === "1" || v === "yes") return true;
      if (v === "false" || v === "0" || v === "no") return false;
      throw new Error("not a boolean");
    },
  };
}

export function enumFlag<const T extends string>(
  env: string,
  def: T,
  help: string,
  values: readonly T[],
): Flag<T> {
  return {
    env,
    help,
    default: def,
    allowed: `one of ${values.join(", ")}`,
    parse(raw) {
      const v = raw.trim() as T;
      if (!values.includes(v)) throw new Error("not an allowed value");
      return v;
    },
  };
}

/** Comma-separated list; empty items are dropped. */
export function listFlag(
  env: string,
  help: string,
  allowed = "a comma-separated list",
  check?: (item: string) => void,
): Flag<readonly string[]> {
  return {
    env,
    help,
    default: [],
    allowed,
    parse(raw) {
      const items = raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      if (check) for (const item of items) check(item);
      return Object.freeze(items);
    },
    show: (v) => v.join(","),
  };
}

/** host:port with a port from 0 to 65535 (0 means pick a free port). */
export function addressFlag(env: string, def: string, help: string): Flag<{ host: string; port: number }> {
  const parse = (raw: string) => {
    const m = /^(.*):(\d+)$/.exec(raw.trim());
    if (!m) throw new Error("not host:port");
    const port = Number(m[2]);
    if (port > 65535) throw new Error("port out of range");
    const host = (m[1] ?? "").replace(/^\[(.*)\]$/, "$1") || "0.0.0.0";
    return Object.freeze({ host, port });
  };
  return {
    env,
    help,
    default: parse(def),
    allowed: "host:port (port 0 picks a free port)",
    parse,
    show: (v) => `${v.host.includes(":") ? `[${v.host}]` : v.host}:${v.port}`,
  };
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms >= 3_600_000) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * Parses argv (without the subcommand) and env against specs.
 * Throws ConfigError for an unknown flag or an invalid value.
 */
export function parseFlags<S extends FlagSpecs>(
  specs: S,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): FlagValues<S> {
  const byName = new Map<string, string>();
  for (const key of Object.keys(specs)) byName.set(kebab(key), key);
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--"))
      throw new ConfigError(arg, "unexpected argument; flags look like --name=value");
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const key = byName.get(name);
    if (key === undefined) throw new ConfigError(name, "unknown flag; see --help");
    const spec = specs[key] as Flag<unknown>;
    if (eq !== -1) {
      given.set(key, arg.slice(eq + 1));
    } else if (spec.isBoolean) {
      given.set(key, "true");
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new ConfigError(name, `needs a value: ${spec.allowed}`);
      given.set(key, next);
      i++;
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const raw = given.get(key) ?? env[spec.env];
    if (raw === undefined || (raw === "" && !given.has(key))) {
      out[key] = spec.default;
      continue;
    }
    try {
      out[key] = spec.parse(raw);
    } catch (err) {
      const source = given.has(key) ? "" : ` (from ${spec.env})`;
      const why = err instanceof Error ? err.message : String(err);
      throw new ConfigError(kebab(key), `${why}${source}: got "${raw}", allowed: ${spec.allowed}`);
    }
  }
  return Object.freeze(out) as FlagValues<S>;
}

/** Help text: one block per flag with its variable, default and allowed values. */
export function formatFlagHelp(specs: FlagSpecs): string {
  const lines: string[] = [];
  for (const [key, spec] of Object.entries(specs)) {
    const show = spec.show ?? ((v: unknown) => (Array.isArray(v) ? v.join(",") : String(v)));
    const def = show(spec.default);
    lines.push(`  --${kebab(key)}  [$${spec.env}]  (default: ${def === "" ? '""' : def})`);
    lines.push(`      ${spec.help} Allowed: ${spec.allowed}.`);
  }
  return lines.join("\n");
}
