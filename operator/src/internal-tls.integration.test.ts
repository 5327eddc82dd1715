/**
 * The internal link's trust on a real control plane with kwok pods: the
 * operator issues a CA and a certificate per tier into Secrets it owns,
 * mounts them into the pods with the TLS flags, gives logic alone the
 * principal key, renews a leaf before it expires without touching a pod
 * template or a pod, and with issuer certManager creates cert-manager
 * Certificates once their CRD is served (a condition and an Event before).
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { recordResult } from "../../reliability/results.ts";
import {
  type ControlPlane,
  needsReal,
  startControlPlane,
  trackFailures,
} from "../../testenv/harness/index.ts";
import type { ChatCluster } from "./api/chatcluster-types.ts";
import { buildDesired } from "./desired/index.ts";
import { clusterHelpers, conditionOf, type Obj } from "./testing/cluster-helpers.ts";
import { eventually, type OperatorProcess, spawnOperator } from "./testing/operator-process.ts";

const NS = "trust";
const GATEWAY_NAME = `gateway.${NS}.demo.chatcluster.internal`;
const LOGIC_NAME = `logic.${NS}.demo.chatcluster.internal`;
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

const chatClusterYaml = (name: string, internalTls: string) =>
  [
    "apiVersion: chatcluster.io/v1alpha1",
    "kind: ChatCluster",
    `metadata: {name: ${name}}`,
    "spec:",
    "  gateway: {replicas: 2}",
    "  logic: {replicas: 2}",
    "  store: {nats: {url: 'nats://nats:4222'}}",
    "  auth: {jwt: {secretKeyRef: {name: chat-auth}}}",
    `  internalTls: ${internalTls}`,
    "",
  ].join("\n");

/** A Secret as the tests read it. */
type SecretObj = Obj & { type?: string; data: Record<string, string> };
const data = (s: SecretObj, key: string) => Buffer.from(s.data[key] ?? "", "base64").toString("utf8");

describe("internal TLS and the principal key on a real control plane", {
  timeout: 600_000,
  skip: needsReal("a control plane (make testenv)"),
}, () => {
  const failed = trackFailures();
  let cp: ControlPlane;
  let dir: string;
  let op: OperatorProcess;
  const { kubectl, get, tryGet, applyYaml, installCrd, applySecret } = clusterHelpers(
    () => (args) => cp.kubectl(args),
    NS,
    () => dir,
  );
  const condition = conditionOf;
  const container = (w: Obj) => w.spec.template.spec.containers[0];
  const secret = async (name: string) => (await tryGet("secret", name)) as SecretObj | undefined;

  // What the first three tests showed, for docs/reliability.md's security table
  // (written by `make test-reliability` when all three held).
  const shown: string[] = [];
  const t0 = performance.now();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "chatcluster-tls-test-"));
    cp = await startControlPlane({ kwok: true, name: "operator-tls" });
    await installCrd();
    await kubectl("create", "namespace", NS);
    await applySecret("chat-auth", { secret: "0123456789abcdef0123456789abcdef" });
    op = await spawnOperator(cp.kubeconfigPath, "op-tls", cp.logsDir, ["--leader-elect=false"]);
    // 60s leaves: renewed about 40s after issue, so the renewal test waits under a minute.
    await applyYaml("demo.yaml", chatClusterYaml("demo", "{certificateLifetime: 60s}"));
  });

  after(async () => {
    if (shown.length === 3)
      recordResult({
        id: "security-operator-certs",
        kind: "security",
        load: "a ChatCluster (2 gateways, 2 logic) on a real kube-apiserver and etcd with kwok nodes, the operator as a process",
        fault:
          "internalTls with 60 s certificates, so the operator renews them during the test (operator/src/internal-tls.integration.test.ts)",
        outcome: shown.join("; "),
        lost: null,
        durationMs: performance.now() - t0,
      });
    await op?.stop();
    if (failed()) console.error(`--- operator log tail\n${op?.logTail(80)}`);
    await cp?.stop({ failed: failed() });
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("creates the CA and a certificate per tier with its name, its usage and a chain to the CA", async () => {
    const caSecret = await eventually("Secret demo-internal-ca", () => secret("demo-internal-ca"), 60_000);
    const ca = new X509Certificate(data(caSecret, "tls.crt"));
    assert.equal(ca.ca, true);
    for (const [tier, name, usage] of [
      ["gateway", GATEWAY_NAME, SERVER_AUTH],
      ["logic", LOGIC_NAME, CLIENT_AUTH],
    ] as const) {
      const s = await eventually(`Secret demo-${tier}-tls`, () => secret(`demo-${tier}-tls`), 60_000);
      assert.equal(s.type, "kubernetes.io/tls");
      assert.equal(s.metadata.ownerReferences?.[0]?.kind, "ChatCluster");
      const leaf = new X509Certificate(data(s, "tls.crt"));
      assert.equal(leaf.subjectAltName, `DNS:${name}`);
      assert.deepEqual(leaf.keyUsage, [usage]);
      assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey), `${tier}: signed by the ChatCluster's CA`);
      assert.equal(data(s, "ca.crt"), data(caSecret, "tls.crt"));
    }
    const key = await secret("demo-principal-key");
    assert.ok(key !== undefined && data(key, "key").length >= 32);
    shown.push(
      "a CA and a certificate per tier in Secrets the ChatCluster owns: gateway serverAuth, logic clientAuth, each naming its tier and chained to the CA",
    );
  });

  it("mounts each tier's Secret and passes the TLS flags, and gives the principal key to logic alone", async () => {
    const cc = await eventually(
      "InternalTLSReady=True",
      async () => {
        const c = await get("chatcluster", "demo");
        return condition(c, "InternalTLSReady")?.status === "True" ? c : undefined;
      },
      60_000,
    );
    assert.equal(condition(cc, "InternalTLSReady")?.reason, "OperatorIssued");
    const sts = await get("statefulset", "demo-gateway");
    const dep = await get("deployment", "demo-logic");
    for (const [w, tier] of [
      [sts, "gateway"],
      [dep, "logic"],
    ] as const) {
      const volume = w.spec.template.spec.volumes.find((v: { name: string }) => v.name === "internal-tls");
      assert.equal(volume?.secret?.secretName, `demo-${tier}-tls`);
      assert.ok(
        container(w).volumeMounts.some(
          (m: { name: string; mountPath: string }) =>
            m.name === "internal-tls" && m.mountPath === "/etc/chatcluster/internal-tls",
        ),
      );
    }
    assert.deepEqual(container(sts).args, [
      "gateway",
      "--internal-tls-cert=/etc/chatcluster/internal-tls/tls.crt",
      "--internal-tls-key=/etc/chatcluster/internal-tls/tls.key",
      "--internal-tls-ca=/etc/chatcluster/internal-tls/ca.crt",
      `--internal-tls-client-name=${LOGIC_NAME}`,
    ]);
    assert.ok(container(dep).args.includes("--internal-tls"));
    assert.ok(container(dep).args.includes(`--internal-tls-server-name=${GATEWAY_NAME}`));
    const envNames = (w: Obj) => (container(w).env as { name: string }[]).map((e) => e.name);
    assert.ok(envNames(dep).includes("CHATCLUSTER_PRINCIPAL_KEY"));
    assert.ok(!envNames(sts).some((n) => n.startsWith("CHATCLUSTER_PRINCIPAL")));
    // The pods the controllers made carry the mount too.
    const pods = JSON.parse(
      await kubectl("get", "pods", "-n", NS, "-l", "app.kubernetes.io/instance=demo", "-o", "json"),
    ) as { items: Obj[] };
    assert.ok(pods.items.length > 0);
    for (const p of pods.items)
      assert.ok(
        p.spec.volumes.some((v: { name: string }) => v.name === "internal-tls"),
        p.metadata.uid,
      );
    shown.push(
      "InternalTLSReady=True; every pod mounts its tier's Secret; gateways require the logic name of a client certificate, logic verifies the gateway name; the principal key is in logic's environment and in no gateway's",
    );
  });

  it("renews the leaves before they expire without changing a pod template or replacing a pod", async () => {
    const before = (await secret("demo-gateway-tls"))!;
    const oldLeaf = new X509Certificate(data(before, "tls.crt"));
    const sts = await get("statefulset", "demo-gateway");
    const dep = await get("deployment", "demo-logic");
    const podUids = async () =>
      (
        JSON.parse(
          await kubectl("get", "pods", "-n", NS, "-l", "app.kubernetes.io/instance=demo", "-o", "json"),
        ) as { items: Obj[] }
      ).items
        .map((p) => p.metadata.uid as string)
        .sort();
    const uids = await podUids();
    const renewed = await eventually(
      "a renewed gateway certificate",
      async () => {
        const s = await secret("demo-gateway-tls");
        return s !== undefined && data(s, "tls.crt") !== data(before, "tls.crt") ? s : undefined;
      },
      120_000,
    );
    const leaf = new X509Certificate(data(renewed, "tls.crt"));
    assert.ok(Date.now() < Date.parse(oldLeaf.validTo), "renewed before the old one expired");
    const ca = new X509Certificate(data((await secret("demo-internal-ca"))!, "tls.crt"));
    assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
    assert.equal(leaf.subjectAltName, `DNS:${GATEWAY_NAME}`);
    const stsAfter = await get("statefulset", "demo-gateway");
    const depAfter = await get("deployment", "demo-logic");
    assert.equal(stsAfter.metadata.generation, sts.metadata.generation, "gateway template unchanged");
    assert.equal(depAfter.metadata.generation, dep.metadata.generation, "logic template unchanged");
    assert.deepEqual(await podUids(), uids, "no pod replaced");
    const events = await kubectl(
      "get",
      "events",
      "-n",
      NS,
      "--field-selector",
      "reason=InternalCertificates",
    );
    assert.match(events, /renewed the gateway certificate/);
    const leftS = Math.round((Date.parse(oldLeaf.validTo) - Date.now()) / 1000);
    shown.push(
      `the gateway certificate renewed ${leftS} s before the old one expired, no pod template changed and no pod replaced (the processes reload the mounted files)`,
    );
  });

  it("with issuer certManager: says cert-manager is missing, then creates Certificates within seconds of their CRD", async () => {
    await applyYaml(
      "cm.yaml",
      chatClusterYaml("cm", "{issuer: certManager, certManager: {issuerRef: {name: internal-ca}}}"),
    );
    const missing = await eventually(
      "InternalTLSReady=False CertManagerAPIMissing",
      async () => {
        const c = await get("chatcluster", "cm");
        return condition(c, "InternalTLSReady")?.reason === "CertManagerAPIMissing" ? c : undefined;
      },
      60_000,
    );
    assert.equal(condition(missing, "InternalTLSReady")?.status, "False");
    assert.match(
      await kubectl("get", "events", "-n", NS, "--field-selector", "reason=CertManagerAPIMissing"),
      /cert-manager/,
    );
    // Pods would wait for Secrets nothing writes: the templates go without TLS meanwhile.
    const waiting = await eventually("the cm StatefulSet", () => tryGet("statefulset", "cm-gateway"), 60_000);
    assert.deepEqual(container(waiting).args, ["gateway"]);
    assert.equal(await tryGet("secret", "cm-internal-ca"), undefined, "the operator issues nothing itself");

    await applyYaml(
      "certificate-crd.yaml",
      [
        "apiVersion: apiextensions.k8s.io/v1",
        "kind: CustomResourceDefinition",
        "metadata: {name: certificates.cert-manager.io}",
        "spec:",
        "  group: cert-manager.io",
        "  scope: Namespaced",
        "  names: {kind: Certificate, listKind: CertificateList, plural: certificates, singular: certificate}",
        "  versions:",
        "    - name: v1",
        "      served: true",
        "      storage: true",
        "      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}",
        "",
      ].join("\n"),
    );
    for (const [tier, usage] of [
      ["gateway", "server auth"],
      ["logic", "client auth"],
    ] as const) {
      const cert = await eventually(
        `Certificate cm-${tier}-tls`,
        () => tryGet("certificate", `cm-${tier}-tls`),
        60_000,
      );
      assert.equal(cert.spec.secretName, `cm-${tier}-tls`);
      assert.deepEqual(cert.spec.dnsNames, [`${tier}.${NS}.cm.chatcluster.internal`]);
      assert.ok(cert.spec.usages.includes(usage));
      assert.deepEqual(cert.spec.issuerRef, {
        name: "internal-ca",
        kind: "Issuer",
        group: "cert-manager.io",
      });
      assert.equal(cert.metadata.ownerReferences?.[0]?.kind, "ChatCluster");
    }
    const tls = await eventually(
      "the cm StatefulSet with TLS",
      async () => {
        const s = await get("statefulset", "cm-gateway");
        return container(s).args.length > 1 ? s : undefined;
      },
      60_000,
    );
    assert.ok(container(tls).args.includes(`--internal-tls-client-name=logic.${NS}.cm.chatcluster.internal`));
    const c = await get("chatcluster", "cm");
    assert.equal(condition(c, "InternalTLSReady")?.reason, "WaitingForCertManager");
  });
  it("leaves the workloads an earlier operator made without TLS until internalTls.enabled is set", async () => {
    // An earlier operator's workloads: built without the internal trust, as it built them, while no operator runs.
    await op.stop();
    await applyYaml("old.yaml", chatClusterYaml("old", "{}").replace("  internalTls: {}\n", ""));
    const cc = (await get("chatcluster", "old")) as unknown as ChatCluster;
    const earlier = buildDesired(cc, {
      defaultImage: "ghcr.io/chatcluster/chatcluster:0.1.0",
      serviceMonitorAvailable: false,
    });
    const path = join(dir, "old-children.json");
    writeFileSync(path, JSON.stringify({ apiVersion: "v1", kind: "List", items: earlier.objects }));
    await kubectl("apply", "--server-side", "--field-manager=chatcluster-operator", "-f", path);
    const sts = await get("statefulset", "old-gateway");
    const dep = await get("deployment", "old-logic");
    op = await spawnOperator(cp.kubeconfigPath, "op-tls-2", cp.logsDir, ["--leader-elect=false"]);
    const kept = await eventually(
      "InternalTLSReady=False NotEnabledOnExistingWorkloads",
      async () => {
        const c = await get("chatcluster", "old");
        return condition(c, "InternalTLSReady")?.reason === "NotEnabledOnExistingWorkloads" ? c : undefined;
      },
      60_000,
    );
    assert.equal(condition(kept, "InternalTLSReady")?.status, "False");
    assert.equal((await get("statefulset", "old-gateway")).metadata.generation, sts.metadata.generation);
    assert.equal((await get("deployment", "old-logic")).metadata.generation, dep.metadata.generation);
    assert.equal(await tryGet("secret", "old-gateway-tls"), undefined);

    await kubectl(
      "patch",
      "chatcluster",
      "old",
      "-n",
      NS,
      "--type=merge",
      "-p",
      '{"spec":{"internalTls":{"enabled":true}}}',
    );
    const on = await eventually(
      "the old StatefulSet with TLS",
      async () => {
        const s = await get("statefulset", "old-gateway");
        return container(s).args.length > 1 ? s : undefined;
      },
      60_000,
    );
    assert.ok(container(on).args.includes(`--internal-tls-client-name=logic.${NS}.old.chatcluster.internal`));
    assert.ok(await eventually("Secret old-gateway-tls", () => secret("old-gateway-tls"), 60_000));
    const logic = await get("deployment", "old-logic");
    assert.ok(
      (container(logic).env as { name: string }[]).some((e) => e.name === "CHATCLUSTER_PRINCIPAL_KEY"),
    );
  });
});
