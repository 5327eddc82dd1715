// Readiness of the two tiers on a real node (kubelet probes, EndpointSlices,
// kube-proxy), where nothing marks a pod Ready but its own /readyz:
//   - a new ChatCluster comes up: logic streams to gateways that are not Ready
//     yet, which then turn Ready (a gateway is Ready only with a logic stream);
//   - a gateway cut off from every logic pod leaves the client Service, so no
//     client is routed to a gateway that cannot reach logic, and comes back
//     once the streams are up again.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { ChatClient } from "../client/src/index.ts";
import { imageArchivePath } from "../image/build-image.ts";
import { tcpProbe, trackFailures, waitFor } from "../testenv/harness/util.ts";
import { type RealNode, startRealNode } from "../testenv/node/real-node.ts";
import { ChatClusterOnNode } from "./chat-cluster.ts";
import { builtImage, QUICK_START, runQuickStart } from "./quick-start.ts";

const PARTITION_TABLE = "chatcluster-e2e-partition";

/** Drops pod traffic between the logic pods and the gateways' internal port, both ways. */
function partition(logicIps: readonly string[], internalPort: number): void {
  const set = logicIps.join(", ");
  execFileSync("nft", ["-f", "-"], {
    input: `table inet ${PARTITION_TABLE} {
  chain forward {
    type filter hook forward priority -300; policy accept;
    ip saddr { ${set} } tcp dport ${internalPort} drop
    ip daddr { ${set} } tcp sport ${internalPort} drop
  }
}
`,
  });
}

function heal(): void {
  execFileSync("nft", ["delete", "table", "inet", PARTITION_TABLE], { stdio: "ignore" });
}

describe("gateway and logic readiness on a real node", () => {
  const failed = trackFailures();
  let node: RealNode | undefined;
  let chat: ChatClusterOnNode;

  before(async () => {
    node = await startRealNode({ name: "e2e-readiness", images: [imageArchivePath] });
    chat = new ChatClusterOnNode(node.controlPlane);
  });
  after(async () => {
    try {
      heal();
    } catch {
      // not partitioned
    }
    await node?.stop({ failed: failed() });
  });

  test("a new ChatCluster turns Ready: every gateway Ready and in the client Service", async (t) => {
    assert.ok(node);
    const started = Date.now();
    await runQuickStart(node, builtImage());
    t.diagnostic(`quick start (NATS, helm install, ChatCluster Ready) took ${Date.now() - started} ms`);
    const gateways = await chat.pods("gateway");
    assert.equal(gateways.length, 2);
    assert.ok(gateways.every(ChatClusterOnNode.ready));
    assert.deepEqual(
      await chat.readyEndpoints(`${QUICK_START.name}-gateway`),
      gateways.map((p) => p.metadata?.name),
    );
    assert.equal((await chat.pods("logic")).filter(ChatClusterOnNode.ready).length, 2);
  });

  test("a gateway cut off from logic leaves the client Service and returns with its streams", async (t) => {
    const logicIps = (await chat.pods("logic")).map((p) => p.status?.podIP ?? "");
    const gatewayIp = await chat.clusterIp(`${QUICK_START.name}-gateway`);
    const service = `${QUICK_START.name}-gateway`;
    const cutAt = Date.now();
    partition(logicIps, 9090);
    await waitFor(
      "every gateway out of the client Service",
      async () => ((await chat.readyEndpoints(service)).length === 0 ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    t.diagnostic(`gateways left the client Service ${Date.now() - cutAt} ms after the cut`);
    // Once kube-proxy has applied that, it refuses a Service without ready
    // endpoints: no client reaches a gateway without logic.
    await waitFor(
      "kube-proxy to refuse connections to the gateway Service",
      async () => ((await tcpProbe(gatewayIp, 8080)) === "ECONNREFUSED" ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    assert.equal((await chat.pods("logic")).filter(ChatClusterOnNode.ready).length, 2, "logic stays Ready");

    const healedAt = Date.now();
    heal();
    await waitFor(
      "both gateways back in the client Service",
      async () => ((await chat.readyEndpoints(service)).length === 2 ? true : undefined),
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    t.diagnostic(`gateways back ${Date.now() - healedAt} ms after the partition healed`);
    const client = new ChatClient({ url: await chat.gatewayUrl(), token: () => chat.token("after-heal") });
    try {
      const opened = new Promise<void>((resolve) =>
        client.on("state", (s) => s.state === "open" && resolve()),
      );
      client.connect();
      await opened;
      const ack = await client.send("readiness", { text: "back" });
      assert.equal(ack.seq, 1);
    } finally {
      client.close();
    }
  });
});
