import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../cli/main.ts", import.meta.url));

/** A `chatcluster <role>` process that has logged its start line. */
export interface CliProcess {
  readonly child: ChildProcess;
  /** The JSON log line announcing the start (ports, epoch). */
  readonly started: Record<string, unknown>;
  readonly exited: Promise<void>;
}

/** Processes started here and still running; a test's teardown ends them with killAll(). */
const live = new Set<ChildProcess>();

/**
 * Starts `chatcluster <role> ...args` from this checkout and resolves once it
 * logs `<role> started` (at info level), with that line parsed. stderr goes to
 * the test's; stdout is read for the line and otherwise discarded.
 */
export function startCli(
  role: "gateway" | "logic",
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<CliProcess> {
  const child = spawn(
    process.execPath,
    ["--disable-warning=ExperimentalWarning", CLI, role, ...args, "--log-level=info"],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } },
  );
  live.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      live.delete(child);
      resolve();
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} did not start within 60 s`)), 60_000);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${role} exited during start (${code ?? signal})`));
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      if (!line.includes(`"${role} started"`)) return;
      clearTimeout(timer);
      resolve({ child, started: JSON.parse(line) as Record<string, unknown>, exited });
    });
  });
}

/** SIGKILLs every process startCli started that is still running, and waits for them. */
export async function killAll(): Promise<void> {
  const exits = [...live].map((c) => new Promise((r) => c.once("exit", r)));
  for (const c of live) c.kill("SIGKILL");
  await Promise.all(exits);
}
