import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import tls from "node:tls";
import { CA_LIFETIME_LEAVES, type PkiPolicy, type PkiState, planPki, tierDnsName } from "./internal-pki.ts";

const HOUR = 3_600_000;
const POLICY: PkiPolicy = {
  namespace: "chat",
  chatCluster: "demo",
  leafLifetimeMs: HOUR,
  propagationMs: HOUR / 6,
};
const EMPTY: PkiState = { ca: undefined, gateway: undefined, logic: undefined };
const T0 = Date.parse("2026-01-01T00:00:00Z");

function bundleCerts(bundle: string): X509Certificate[] {
  return bundle
    .split("-----END CERTIFICATE-----")
    .filter((p) => p.includes("BEGIN"))
    .map((p) => new X509Certificate(`${p}-----END CERTIFICATE-----\n`));
}

/** Whether a leaf chains to a CA of the bundle and both are valid at `atMs` (what a TLS peer checks). */
function trusted(leafPem: string, bundle: string, atMs: number): boolean {
  const leaf = new X509Certificate(leafPem);
  const valid = (c: X509Certificate) => Date.parse(c.validFrom) <= atMs && atMs <= Date.parse(c.validTo);
  return (
    valid(leaf) &&
    bundleCerts(bundle).some((ca) => valid(ca) && leaf.checkIssued(ca) && leaf.verify(ca.publicKey))
  );
}

describe("the operator's internal PKI", () => {
  it("issues a CA and a leaf per tier with the tier's name, its usage, and a chain to the CA", () => {
    const { state } = planPki(EMPTY, POLICY, T0);
    const ca = new X509Certificate(state.ca.cert);
    assert.equal(ca.ca, true);
    assert.ok(ca.checkIssued(ca) && ca.verify(ca.publicKey), "the CA signs itself");
    for (const [tier, usage] of [
      ["gateway", "1.3.6.1.5.5.7.3.1"],
      ["logic", "1.3.6.1.5.5.7.3.2"],
    ] as const) {
      const leaf = new X509Certificate(state[tier].cert);
      assert.equal(leaf.ca, false);
      assert.equal(leaf.subjectAltName, `DNS:${tierDnsName(tier, "chat", "demo")}`);
      assert.deepEqual(leaf.keyUsage, [usage], `${tier}: extended key usage`);
      assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey), `${tier}: signed by the CA`);
      assert.equal(state[tier].bundle, state.ca.cert);
      assert.ok(Date.parse(leaf.validTo) <= Date.parse(ca.validTo));
      assert.equal(Date.parse(leaf.validTo) - T0, HOUR);
      assert.equal(Date.parse(ca.validTo) - T0, HOUR * CA_LIFETIME_LEAVES);
    }
  });

  it("gives certificates that make a TLS handshake both ways, and a logic certificate cannot serve", async () => {
    const { state } = planPki(EMPTY, POLICY, Date.now());
    const handshake = (server: { cert: string; key: string }) =>
      new Promise<{ clientAuthorized: boolean; peerName: string }>((resolve, reject) => {
        const srv = tls.createServer(
          {
            cert: server.cert,
            key: server.key,
            ca: state.gateway.bundle,
            requestCert: true,
            rejectUnauthorized: true,
          },
          (socket) => {
            const peer = socket.getPeerX509Certificate();
            resolve({ clientAuthorized: socket.authorized, peerName: peer?.subjectAltName ?? "" });
            socket.end();
          },
        );
        srv.listen(0, "127.0.0.1", () => {
          const { port } = srv.address() as AddressInfo;
          const name = tierDnsName("gateway", "chat", "demo");
          const client = tls.connect({
            host: "127.0.0.1",
            port,
            cert: state.logic.cert,
            key: state.logic.key,
            ca: state.logic.bundle,
            servername: name,
            checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
          });
          client.on("error", (err) => {
            srv.close();
            reject(err);
          });
          client.on("close", () => srv.close());
        });
      });
    const ok = await handshake(state.gateway);
    assert.equal(ok.clientAuthorized, true);
    assert.equal(ok.peerName, `DNS:${tierDnsName("logic", "chat", "demo")}`);
    // The logic leaf has neither the gateway's name nor server usage.
    await assert.rejects(handshake(state.logic));
  });

  it("renews each leaf at two thirds of its lifetime and keeps it before, with the CA unchanged", () => {
    const first = planPki(EMPTY, POLICY, T0);
    // Backdated a minute against clock skew: renewal at two thirds of notBefore..notAfter.
    assert.equal(first.nextCheckMs, T0 - 60_000 + ((HOUR + 60_000) * 2) / 3);
    const early = planPki(first.state, POLICY, first.nextCheckMs - 1000);
    assert.deepEqual(early.changed, { ca: false, gateway: false, logic: false });
    assert.equal(early.state.gateway, first.state.gateway);
    const due = planPki(first.state, POLICY, first.nextCheckMs);
    assert.deepEqual(due.changed, { ca: false, gateway: true, logic: true });
    assert.notEqual(due.state.gateway.cert, first.state.gateway.cert);
    assert.ok(trusted(due.state.gateway.cert, first.state.logic.bundle, first.nextCheckMs));
    assert.ok(due.notes.some((n) => /renewed the gateway certificate/.test(n)));
  });

  it("reissues a leaf that another CA signed, that names another tier, or whose key does not match", () => {
    const a = planPki(EMPTY, POLICY, T0).state;
    const b = planPki(EMPTY, POLICY, T0).state;
    const mixed = planPki(
      { ca: a.ca, gateway: b.gateway, logic: { ...a.logic, key: b.logic.key } },
      POLICY,
      T0,
    );
    assert.deepEqual(mixed.changed, { ca: false, gateway: true, logic: true });
    const swapped = planPki({ ca: a.ca, gateway: a.logic, logic: a.gateway }, POLICY, T0);
    assert.deepEqual(swapped.changed, { ca: false, gateway: true, logic: true });
  });

  it("rotates the CA so that, whichever version of each Secret a pod holds, every leaf is trusted by the other tier", () => {
    // Pods may hold any version of a Secret written within the propagation time.
    type Version = {
      atMs: number;
      gateway: { cert: string; bundle: string };
      logic: { cert: string; bundle: string };
    };
    const versions: Version[] = [];
    let state: PkiState = EMPTY;
    let rotations = 0;
    const step = POLICY.propagationMs / 4;
    for (let t = T0; t <= T0 + HOUR * CA_LIFETIME_LEAVES * 2.5; t += step) {
      const plan = planPki(state, POLICY, t);
      if (plan.changed.ca && state.ca !== undefined && plan.state.ca.cert !== state.ca.cert) rotations++;
      state = plan.state;
      versions.push({ atMs: t, gateway: plan.state.gateway, logic: plan.state.logic });
      const window = versions.filter((v) => v.atMs >= t - POLICY.propagationMs);
      for (const a of window)
        for (const b of window) {
          assert.ok(
            trusted(a.gateway.cert, b.logic.bundle, t),
            `logic trusts the gateway at +${(t - T0) / HOUR}h`,
          );
          assert.ok(
            trusted(a.logic.cert, b.gateway.bundle, t),
            `the gateway trusts logic at +${(t - T0) / HOUR}h`,
          );
        }
    }
    assert.ok(rotations >= 2, `the CA rotated ${rotations} times`);
  });
});
