// containerd (Debian's 1.6) for the real node: its own config, socket, root and
// state under the node's directory, the CRI plugin set up for this machine kind,
// and images loaded from OCI archives with `ctr images import` (no registry).
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type ManagedProcess, startProcess } from "../harness/proc.ts";
import { waitFor } from "../harness/util.ts";
import { run } from "./network.ts";

const execFileAsync = promisify(execFile);

export interface ContainerdOptions {
  dir: string;
  logsDir: string;
  /** The sandbox image (already a reference; imported right after start). */
  sandboxImage: string;
  cniConfDir: string;
  timeoutMs: number;
}

export interface Containerd {
  readonly process: ManagedProcess;
  /** The socket kubelet and ctr talk to. */
  readonly address: string;
  importImage(archive: string): Promise<void>;
  /** Gives an imported image another reference (`ctr images tag`). */
  tagImage(source: string, target: string): void;
}

function config(o: ContainerdOptions, address: string): string {
  // restrict_oom_score_adj: this VM withholds CAP_SYS_RESOURCE even from root, so
  // runc cannot set a negative oom_score_adj and every sandbox would fail to start.
  // SystemdCgroup = false: no systemd here; kubelet uses the cgroupfs driver.
  return `version = 2
root = "${join(o.dir, "root")}"
state = "${join(o.dir, "state")}"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "${address}"

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(o.dir, "opt")}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${o.sandboxImage}"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${join(o.dir, "runc")}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${o.cniConfDir}"
    max_conf_num = 1
`;
}

export async function startContainerd(o: ContainerdOptions): Promise<Containerd> {
  for (const d of ["root", "state", "opt", "runc"]) mkdirSync(join(o.dir, d), { recursive: true });
  const address = join(o.dir, "containerd.sock");
  const configPath = join(o.dir, "config.toml");
  writeFileSync(configPath, config(o, address));
  const proc = startProcess({
    name: "containerd",
    command: "containerd",
    args: ["--config", configPath, "--log-level", "warn"],
    logPath: join(o.logsDir, "containerd.log"),
  });
  const ctr = (args: string[]) => run("ctr", ["--address", address, "--namespace", "k8s.io", ...args]);
  await waitFor(
    "containerd to answer",
    async () => {
      ctr(["version"]);
      return true;
    },
    { timeoutMs: o.timeoutMs, intervalMs: 100, watch: [proc] },
  );
  return {
    process: proc,
    address,
    async importImage(archive: string) {
      try {
        await execFileAsync("ctr", [
          "--address",
          address,
          "--namespace",
          "k8s.io",
          "images",
          "import",
          archive,
        ]);
      } catch (err) {
        const e = err as Error & { stderr?: string };
        throw new Error(`testenv: ctr images import ${archive} failed: ${(e.stderr ?? e.message).trim()}`);
      }
    },
    tagImage(source: string, target: string) {
      ctr(["images", "tag", "--force", source, target]);
    },
  };
}
