// The real node itself: it refuses ranges that overlap this machine's networks;
// a pod runs from an imported image, reaches the API through the `kubernetes`
// Service and resolves cluster names only; pod and Service traffic never leaves
// the machine; and stopping it, or `make cluster-down` after its owner was
// killed, puts the machine back exactly as it was.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { imageArchivePath, imageRefPath } from "../../image/build-image.ts";
import { repoRoot } from "../harness/paths.ts";
import { tcpProbe, trackFailures, waitFor } from "../harness/util.ts";
import { NODE_NETWORK, TOUCHED_SYSCTLS } from "./network.ts";
import { FIXED_HOST_PATHS, readNodeState } from "./node-state.ts";
import { type RealNode, startRealNode } from "./real-node.ts";
import { nodeLeftovers } from "./teardown.ts";

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: "utf8" });

/** What the node may touch on this machine, as text that must read the same before and after. */
function machineSnapshot(): Record<string, string> {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((p) => p !== "")
    .sort();
  const processes = readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0")[0] ?? "";
      } catch {
        return "";
      }
    })
    // Only what the real node runs: other tests on this machine run their own control planes.
    .filter((c) => /containerd|runc|kubelet|kube-proxy|coredns|\/pause$/.test(c))
    .sort();
  const cgroups = readdirSync("/sys/fs/cgroup").filter((h) =>
    existsSync(join("/sys/fs/cgroup", h, "kubepods")),
  );
  return {
    nft: sh("nft", ["list", "ruleset"]),
    iptables: sh("iptables-save", []).replace(/^#.*$/gm, ""),
    links: (JSON.parse(sh("ip", ["-j", "link"])) as { ifname: string }[]).map((l) => l.ifname).join(" "),
    routes: sh("ip", ["-4", "route", "show", "table", "all"]),
    netns: existsSync("/run/netns") ? readdirSync("/run/netns").join(" ") : "(none)",
    mounts: mounts.join("\n"),
    paths: FIXED_HOST_PATHS.map(
      (p) => `${p}: ${existsSync(p) ? readdirSync(p).sort().join(" ") : "(absent)"}`,
    ).join("\n"),
    sysctls: TOUCHED_SYSCTLS.map(
      (k) => `${k}=${existsSync(`/proc/sys/${k}`) ? readFileSync(`/proc/sys/${k}`, "utf8").trim() : "-"}`,
    ).join("\n"),
    cgroups: cgroups.join(" "),
    processes: processes.join("\n"),
  };
}

/** Connects from this process; resolves "connected" or the error code (or "timeout"). */
function dropCounter(comment: string): number {
  const table = sh("nft", ["list", "table", "inet", NODE_NETWORK.nftTable]);
  const line = table.split("\n").find((l) => l.includes(comment)) ?? "";
  return Number(/counter packets (\d+)/.exec(line)?.[1] ?? Number.NaN);
}

/** Runs in the probe pod (node from the workload image): what a pod can and cannot reach. */
const POD_PROBE = `
const dns = require("node:dns").promises, https = require("node:https"), net = require("node:net"), fs = require("node:fs");
const tcp = (host, port) => new Promise((res) => { const s = net.connect({ host, port, timeout: 3000 });
  s.on("connect", () => { s.destroy(); res("connected"); }); s.on("timeout", () => { s.destroy(); res("timeout"); });
  s.on("error", (e) => res(e.code)); });
const sa = "/var/run/secrets/kubernetes.io/serviceaccount/";
(async () => {
  const out = {};
  out.cluster = await dns.lookup("kubernetes.default.svc.cluster.local").then((a) => a.address, (e) => e.code);
  out.outside = await dns.lookup("example.com").then((a) => a.address, (e) => e.code);
  out.api = await new Promise((res) => https.get({ host: "kubernetes.default.svc", path: "/version", ca: fs.readFileSync(sa + "ca.crt"),
    headers: { authorization: "Bearer " + fs.readFileSync(sa + "token", "utf8") } }, (r) => { let b = "";
    r.on("data", (c) => (b += c)); r.on("end", () => res(r.statusCode + " " + JSON.parse(b).gitVersion)); }).on("error", (e) => res(e.code)));
  out.offMachine = await tcp("203.0.113.1", 80);
  out.unusedService = await tcp("10.96.77.77", 80);
  out.node = await tcp("${NODE_NETWORK.nodeIp}", Number(process.argv[1]));
  console.log(JSON.stringify(out));
})();
`;

describe("the real node", () => {
  const failed = trackFailures();
  const before = machineSnapshot();
  let node: RealNode | undefined;
  let owner: ChildProcess | undefined;

  after(async () => {
    await node?.stop({ failed: failed() });
    owner?.kill("SIGKILL");
  });

  test("refuses to start when its ranges overlap a network of this machine", async () => {
    sh("ip", ["route", "add", "blackhole", "10.96.123.0/24"]);
    try {
      await assert.rejects(startRealNode({ name: "real-node-overlap" }), /overlaps 10\.96\.0\.0\/16/);
    } finally {
      sh("ip", ["route", "del", "blackhole", "10.96.123.0/24"]);
    }
    assert.deepEqual(machineSnapshot(), before);
  });

  test("a pod runs from an imported image, reaches the API through its Service and resolves only cluster names", async (t) => {
    if (!existsSync(imageArchivePath)) assert.fail("the workload image is not built: run `make image`");
    node = await startRealNode({ name: "real-node", images: [imageArchivePath] });
    t.diagnostic(`real node Ready with DNS and Service routing in ${(node.startupMs / 1000).toFixed(1)}s`);
    const cp = node.controlPlane;
    const image = readFileSync(imageRefPath, "utf8").trim();
    await cp.kubectl([
      "run",
      "probe",
      `--image=${image}`,
      "--image-pull-policy=IfNotPresent",
      "--command",
      "--",
      "node",
      "-e",
      "setInterval(() => {}, 1e9)",
    ]);
    const readyStart = Date.now();
    await cp.kubectl(["wait", "pod/probe", "--for=condition=Ready", "--timeout=60s"]);
    t.diagnostic(`a pod Ready ${Date.now() - readyStart} ms after it was created`);

    const apiPort = new URL(cp.server).port;
    const offBefore = dropCounter("pod traffic never leaves this machine");
    const out = JSON.parse(
      await cp.kubectl(["exec", "probe", "--", "node", "-e", POD_PROBE, apiPort]),
    ) as Record<string, string>;
    assert.equal(out.cluster, NODE_NETWORK.kubernetesServiceIp, "cluster.local resolves through CoreDNS");
    assert.match(out.outside ?? "", /^E/, "a name outside the cluster does not resolve");
    assert.match(out.api ?? "", /^200 v1\.36\./, "the API answers through the kubernetes Service");
    assert.equal(out.node, "connected", "the node's own address is reachable");
    assert.notEqual(out.offMachine, "connected");
    assert.notEqual(out.unusedService, "connected");
    assert.ok(dropCounter("a pod sent to a Service address without endpoints") > 0);
    assert.ok(
      dropCounter("pod traffic never leaves this machine") > offBefore,
      "the forward drop rule saw the attempt",
    );
    assert.match(await cp.kubectl(["logs", "probe"]), /^$/);
  });

  test("a Service address without endpoints never leaves the machine from the host either", async () => {
    const route = sh("ip", ["-4", "route", "get", "10.96.77.77"]);
    assert.match(
      route,
      new RegExp(`dev ${NODE_NETWORK.bridge} `),
      "the Service range is routed into the bridge",
    );
    const rejected = dropCounter("this machine sent to a Service address without endpoints");
    assert.equal(await tcpProbe("10.96.77.77", 80), "ECONNREFUSED");
    assert.ok(dropCounter("this machine sent to a Service address without endpoints") > rejected);
  });

  test("stop() puts the machine back as it was", async (t) => {
    const state = readNodeState();
    const started = Date.now();
    await node?.stop();
    node = undefined;
    t.diagnostic(`torn down in ${Date.now() - started} ms`);
    assert.deepEqual(nodeLeftovers(state), []);
    assert.deepEqual(machineSnapshot(), before);
  });

  test("after its owner is killed, `make cluster-down` removes what the node left", async () => {
    const script = `
      import { startRealNode } from ${JSON.stringify(join(repoRoot, "testenv/node/real-node.ts"))};
      const node = await startRealNode({ name: "real-node-owner", images: [${JSON.stringify(imageArchivePath)}] });
      await node.controlPlane.kubectl(["run", "probe", "--image=" + process.argv[1], "--command", "--", "node", "-e", "setInterval(() => {}, 1e9)"]);
      await node.controlPlane.kubectl(["wait", "pod/probe", "--for=condition=Ready", "--timeout=60s"]);
      console.log("ready");
      setInterval(() => {}, 1e9);
    `;
    const image = readFileSync(imageRefPath, "utf8").trim();
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, image], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    owner = child;
    let output = "";
    child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
    await waitFor(
      "the owner's node with a running pod",
      async () => (output.includes("ready") ? true : undefined),
      {
        timeoutMs: 180_000,
        intervalMs: 250,
      },
    );
    const state = readNodeState();
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    owner = undefined;
    const left = nodeLeftovers(state);
    for (const kind of ["cgroup", "mount", "bridge", "nft table"]) {
      assert.ok(
        left.some((l) => l.startsWith(kind)),
        `a killed owner leaves a ${kind} behind: ${left.join(", ")}`,
      );
    }

    sh(process.execPath, [join(repoRoot, "testenv/harness/cluster.ts"), "down"]);
    assert.deepEqual(nodeLeftovers(state), []);
    assert.deepEqual(machineSnapshot(), before);
  });
});
