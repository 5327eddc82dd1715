import { execFile, spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type KubernetesObject, loadYaml } from "@kubernetes/client-node";
import { binaryPath } from "../../../testenv/harness/index.ts";

const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const CHART = join(ROOT, "charts/chatcluster");
/** The Kubernetes version the tests run; helm template renders for an old one unless told. */
export const KUBE_VERSION = "v1.36.3";

/** Runs the testenv's helm; rejects with helm's stderr. */
export async function helm(args: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await run(binaryPath("helm"), args, {
      env: { ...process.env, HELM_CACHE_HOME: join(tmpdir(), "cc-helm-cache"), ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`helm ${args.join(" ")}: ${e.stderr ?? e.message}`);
  }
}

/** `helm template <release> <chart> ...args` for the Kubernetes version the tests run. */
export function template(release: string, args: string[] = []): Promise<string> {
  return helm(["template", release, CHART, "--kube-version", KUBE_VERSION, ...args]);
}

/**
 * Rendered objects as plain data, exactly as written: the client's typed
 * deserializer would drop unknown fields and rename schema keywords, so each
 * document is parsed with a kind it does not know. js-yaml refuses a
 * duplicated key, as the API server does.
 */
export function parseManifests(text: string): KubernetesObject[] {
  const out: KubernetesObject[] = [];
  for (const doc of text.split(/^---\s*$/m)) {
    const kind = /^kind: (\S+)\s*$/m.exec(doc)?.[1];
    if (kind === undefined) continue;
    const obj = loadYaml<KubernetesObject>(doc.replace(/^kind: \S+\s*$/m, "kind: PlainYaml"));
    out.push({ ...obj, kind });
  }
  return out;
}

/** The rendered object of this kind (and name), typed by the caller. */
export function find<T extends KubernetesObject>(
  manifests: KubernetesObject[],
  kind: string,
  name?: string,
): T {
  const m = manifests.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  if (m === undefined) throw new Error(`no ${kind}${name ? ` ${name}` : ""} rendered`);
  return m as T;
}

/** Runs a command with stdin, resolving with stdout; rejects with stderr on a non-zero exit. */
export function pipe(cmd: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`)),
    );
    child.stdin.end(input);
  });
}

/** Polls until probe returns a value; the error names what was awaited and the last failure. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
