// The quick start of docs/install.md, run as written on the real node: the
// block between the quick-start markers goes to bash unchanged except for the
// line the reader is told to change (IMAGE=...), which names the image
// `make image` built. NATS comes from docs/examples/nats.yaml, whose official
// image name the node serves from the nats-server the testenv built (the same
// release, imported, never pulled).
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { imageRefPath } from "../image/build-image.ts";
import { binaryPath, repoRoot } from "../testenv/harness/paths.ts";
import type { RealNode } from "../testenv/node/real-node.ts";

const execFileAsync = promisify(execFile);

/** What the quick start makes: the names the rest of a test works with. */
export const QUICK_START = Object.freeze({
  name: "demo",
  namespace: "default",
  release: "chatcluster",
  releaseNamespace: "chatcluster-system",
  authSecret: "chat-auth",
});

/** The shell block of docs/install.md between `<!-- quick-start` and `<!-- /quick-start -->`. */
export function quickStartBlock(): string {
  const doc = readFileSync(join(repoRoot, "docs", "install.md"), "utf8");
  const m = /<!-- quick-start[^>]*-->\s*```sh\n([\s\S]*?)```\s*<!-- \/quick-start -->/.exec(doc);
  if (m?.[1] === undefined) throw new Error("docs/install.md has no quick-start block");
  return m[1];
}

/** The block with IMAGE set to `image`; every other line as written. */
export function quickStartScript(image: string): string {
  const block = quickStartBlock();
  if (!/^IMAGE=\S+/m.test(block))
    throw new Error("the quick start no longer sets IMAGE on a line of its own");
  return block.replace(/^IMAGE=\S+/m, `IMAGE=${image}`);
}

/** The image `make image` built (chatcluster.invalid/chatcluster:dev-<digest>). */
export function builtImage(): string {
  return readFileSync(imageRefPath, "utf8").trim();
}

/** The NATS image docs/examples/nats.yaml names; it must be the release the testenv builds. */
export function natsExampleImage(): string {
  const m = /^\s*image:\s*(\S+)\s*$/m.exec(readFileSync(join(repoRoot, "docs/examples/nats.yaml"), "utf8"));
  if (m?.[1] === undefined) throw new Error("docs/examples/nats.yaml names no image");
  return m[1];
}

/** Runs a command from the repository root with the node's kubeconfig and the testenv's helm on PATH. */
async function runAgainst(node: RealNode, what: string, cmd: string, args: string[]): Promise<string> {
  const env = {
    ...process.env,
    KUBECONFIG: node.controlPlane.kubeconfigPath,
    PATH: `${dirname(binaryPath("helm"))}:${process.env.PATH ?? ""}`,
  };
  try {
    const { stdout } = await execFileAsync(cmd, args, { cwd: repoRoot, env, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${what} failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

/** Runs the quick start on the node; rejects with the script's output when a command fails. */
export async function runQuickStart(node: RealNode, image: string): Promise<void> {
  const natsRef = natsExampleImage();
  node.containerd.tagImage(
    node.images.nats,
    natsRef.includes("/") ? natsRef : `docker.io/library/${natsRef}`,
  );
  await runAgainst(node, "the quick start", "bash", ["-euo", "pipefail", "-c", quickStartScript(image)]);
}

/** `helm <args>` against the node. */
export function helm(node: RealNode, args: string[]): Promise<string> {
  return runAgainst(node, `helm ${args.join(" ")}`, binaryPath("helm"), args);
}
